# Tests of the pages that show runs (Monitor, Compare, Sample) and the chart widget.
bcd_add_ui_test(tst_metric_chart SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_metric_chart.cpp)
bcd_add_ui_test(tst_monitor_page SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_monitor_page.cpp)
bcd_add_ui_test(tst_compare_page SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_compare_page.cpp)
bcd_add_ui_test(tst_sample_page SOURCES ${CMAKE_CURRENT_LIST_DIR}/tst_sample_page.cpp LIBS bcd_app_testsupport)
