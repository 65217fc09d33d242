# fuzz.cmake — helpers shared by the libFuzzer targets under tests/fuzz (VMDBG_FUZZ=ON, clang
# only). Included by each target's CMakeLists.txt; defines its functions once.
include_guard(GLOBAL)

if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "VMDBG_FUZZ needs clang (configure with CC=clang)")
endif()

# vmdbg_fuzz_copy(NEW ORIG [ONLY file.c...] [LINK lib...]): NEW is a static library built from
# the sources of the library ORIG (all of them, or only those named in ONLY) with libFuzzer's
# coverage instrumentation and the sanitizers. The sources are read from ORIG, so files added
# to src/ are picked up without touching this directory. NEW links LINK first (other
# instrumented copies), then ORIG itself for everything else ORIG needs (its dependencies and
# include directories); the instrumented objects come first on the link line, so they are the
# ones used.
function(vmdbg_fuzz_copy new orig)
  cmake_parse_arguments(C "" "" "ONLY;LINK" ${ARGN})
  get_target_property(srcs ${orig} SOURCES)
  get_target_property(dir ${orig} SOURCE_DIR)
  set(files)
  foreach(s IN LISTS srcs)
    if(NOT s MATCHES "\\.c$")
      continue()
    endif()
    get_filename_component(base ${s} NAME)
    if(C_ONLY AND NOT base IN_LIST C_ONLY)
      continue()
    endif()
    if(NOT IS_ABSOLUTE ${s})
      set(s ${dir}/${s})
    endif()
    list(APPEND files ${s})
  endforeach()
  if(NOT files)
    message(FATAL_ERROR "vmdbg_fuzz_copy: no sources taken from ${orig}")
  endif()
  add_library(${new} STATIC ${files})
  target_compile_options(${new} PRIVATE -fsanitize=fuzzer-no-link,address,undefined
                         -fno-sanitize-recover=all -fno-omit-frame-pointer)
  get_target_property(incs ${orig} INCLUDE_DIRECTORIES)
  if(incs)
    target_include_directories(${new} PRIVATE ${incs})
  endif()
  target_link_libraries(${new} PUBLIC ${C_LINK} ${orig})
endfunction()

# The instrumented util library every fuzz target uses (parse_number, buffers, err_set).
if(NOT TARGET vmdbg_util_fuzz)
  vmdbg_fuzz_copy(vmdbg_util_fuzz vmdbg_util)
endif()

# vmdbg_fuzz_target(NAME SOURCES file... LIBS lib... [SEEDS dir...] [DICT file] [ARGS arg...]):
# a libFuzzer executable and its CTest test (label fuzz, ~30 s). New inputs go to
# <build>/corpus; seeds are read from the source tree; crashes are written next to the binary.
# tests/fuzz/run-long.sh runs the same command lines for longer.
function(vmdbg_fuzz_target name)
  cmake_parse_arguments(F "" "DICT" "SOURCES;LIBS;SEEDS;ARGS" ${ARGN})
  add_executable(${name} ${F_SOURCES})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined
                         -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(${name} PRIVATE ${F_LIBS})
  set(work ${CMAKE_CURRENT_BINARY_DIR}/corpus)
  file(MAKE_DIRECTORY ${work})
  set(args -max_total_time=30 -rss_limit_mb=2048 -timeout=10
           -artifact_prefix=${CMAKE_CURRENT_BINARY_DIR}/ ${F_ARGS})
  if(F_DICT)
    list(APPEND args -dict=${F_DICT})
  endif()
  add_test(NAME ${name} COMMAND ${name} ${args} ${work} ${F_SEEDS})
  set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT 120)
endfunction()
