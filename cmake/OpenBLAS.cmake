# OpenBLAS, preferring Debian's OpenMP build: the engine parallelises with OpenMP itself, and an
# OpenMP OpenBLAS called from inside a parallel region runs single-threaded instead of
# oversubscribing the cores (the pthread build would spawn its own pool).
find_path(OPENBLAS_INCLUDE_DIR cblas.h
          PATH_SUFFIXES x86_64-linux-gnu/openblas-openmp aarch64-linux-gnu/openblas-openmp
                        x86_64-linux-gnu/openblas-pthread aarch64-linux-gnu/openblas-pthread openblas
          REQUIRED)
find_library(OPENBLAS_LIBRARY openblas
             PATH_SUFFIXES x86_64-linux-gnu/openblas-openmp aarch64-linux-gnu/openblas-openmp
                           x86_64-linux-gnu/openblas-pthread aarch64-linux-gnu/openblas-pthread
             REQUIRED)
add_library(bcd_openblas INTERFACE)
target_include_directories(bcd_openblas SYSTEM INTERFACE ${OPENBLAS_INCLUDE_DIR})
target_link_libraries(bcd_openblas INTERFACE ${OPENBLAS_LIBRARY})
message(STATUS "OpenBLAS: ${OPENBLAS_LIBRARY} (${OPENBLAS_INCLUDE_DIR})")
