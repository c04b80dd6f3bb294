# Read by cpack at packaging time (CPACK_PROJECT_CONFIG_FILE).
# Each Debian package's description is its component's description, whose first line is the
# package's synopsis; without this, CPack would put the project's summary in front of both.
if(CPACK_GENERATOR STREQUAL "DEB")
    unset(CPACK_PACKAGE_DESCRIPTION_SUMMARY)
endif()
