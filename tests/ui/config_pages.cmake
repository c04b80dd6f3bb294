# Tests of the pages that configure (Runs, New run, Nodes), of the main window, and that the GUI
# thread never waits.
bcd_add_ui_test(tst_new_run_page SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_new_run_page.cpp)
bcd_add_ui_test(tst_runs_page SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_runs_page.cpp LIBS bcd_app_testsupport)
bcd_add_ui_test(tst_nodes_page SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_nodes_page.cpp LIBS bcd_app_testsupport)
bcd_add_ui_test(tst_main_window SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_main_window.cpp)
bcd_add_ui_test(tst_gui_responsive SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_gui_responsive.cpp)
