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

# ---- the docs' examples (test/doc_examples.py) ----
# Every shell example a Markdown file shows runs against the built binary and
# its shown output is compared; examples that need a cluster, a registry or
# minutes are marked in the doc with the reason, and the test counts them.
if(Python3_Interpreter_FOUND)
  add_test(NAME doc_examples
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/doc_examples.py
                   --source ${PROJECT_SOURCE_DIR} --build ${PROJECT_BINARY_DIR})
  set_tests_properties(doc_examples PROPERTIES LABELS "unit" TIMEOUT 300)
endif()
# ---- end the docs' examples ----
