# Script tests and extra properties of script-driven tests; included at the
# end of test/CMakeLists.txt.  Add further script tests (CLI golden files,
# manifest checks) below the existing ones.

find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  # The fake API server checks its own Kubernetes semantics (pagination,
  # selector transitions, 410s, binding) so the C tests can trust it.
  add_test(NAME fake_apiserver_selftest
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/fake_apiserver.py --self-test)
  set_tests_properties(fake_apiserver_selftest PROPERTIES LABELS "unit" TIMEOUT 60
    ENVIRONMENT "FP_SHARED_DATA=${FP_SHARED_DATA}")
  # test_it_informer spawns the fake server with this interpreter.
  if(TEST test_it_informer)
    set_property(TEST test_it_informer APPEND PROPERTY ENVIRONMENT
                 "FP_PYTHON=${Python3_EXECUTABLE}")
  endif()
endif()

# ---- burst-safe placement (test_it_bind, test_simulate) ----
# test_it_bind spawns the fake API server (test/support/fake_api.c) with this
# interpreter; test_simulate runs the flexplace binary, so it depends on it.
if(Python3_Interpreter_FOUND AND TEST test_it_bind)
  set_property(TEST test_it_bind APPEND PROPERTY ENVIRONMENT "FP_PYTHON=${Python3_EXECUTABLE}")
endif()
if(TEST test_simulate)
  add_dependencies(test_simulate flexplace)
endif()
# ---- end burst-safe placement ----
