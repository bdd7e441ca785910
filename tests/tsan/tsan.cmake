# ThreadSanitizer build (PORTRAIT_TSAN=ON, set by the `tsan` preset). Included from the top-level CMakeLists.txt:
# defines portrait_tsan_runtime, and portrait_tsan_instrument_executables() links it into every executable with the
# -Wl,--wrap options that route the project's absl::Mutex calls through it (see absl_mutex_tsan.cc).

option(PORTRAIT_TSAN_WRAP_ABSL "TSan build: route absl::Mutex and friends through the TSan-annotated wrappers" ON)
option(PORTRAIT_TSAN_SUPPRESSIONS "TSan build: compile tests/tsan/suppressions.txt into every binary" ON)

set(PORTRAIT_TSAN_DIR ${CMAKE_CURRENT_LIST_DIR})

# The suppressions, as a C string constant the runtime object returns from __tsan_default_suppressions().
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PORTRAIT_TSAN_DIR}/suppressions.txt)
if(PORTRAIT_TSAN_SUPPRESSIONS)
  file(READ ${PORTRAIT_TSAN_DIR}/suppressions.txt PORTRAIT_TSAN_SUPPRESSIONS_TEXT)
else()
  set(PORTRAIT_TSAN_SUPPRESSIONS_TEXT "")
endif()
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/tsan/tsan_suppressions.inc
  CONTENT "static const char kPortraitTsanSuppressions[] = R\"tsan(@PORTRAIT_TSAN_SUPPRESSIONS_TEXT@)tsan\";\n"
  @ONLY)

add_library(portrait_tsan_runtime OBJECT ${PORTRAIT_TSAN_DIR}/absl_mutex_tsan.cc)
target_include_directories(portrait_tsan_runtime PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/tsan)
target_link_libraries(portrait_tsan_runtime PUBLIC absl::synchronization absl::time absl::status)

# One -Wl,--wrap per wrapper the source defines: the source is the list.
set(PORTRAIT_TSAN_WRAP_OPTIONS "")
if(PORTRAIT_TSAN_WRAP_ABSL)
  file(STRINGS ${PORTRAIT_TSAN_DIR}/absl_mutex_tsan.cc wrapper_lines REGEX "__wrap__Z[A-Za-z0-9_]+")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PORTRAIT_TSAN_DIR}/absl_mutex_tsan.cc)
  set(wrapped_symbols "")
  foreach(line IN LISTS wrapper_lines)
    string(REGEX MATCHALL "__wrap__Z[A-Za-z0-9_]+" names "${line}")
    foreach(name IN LISTS names)
      string(REPLACE "__wrap_" "" symbol "${name}")
      list(APPEND wrapped_symbols ${symbol})
    endforeach()
  endforeach()
  list(REMOVE_DUPLICATES wrapped_symbols)
  foreach(symbol IN LISTS wrapped_symbols)
    list(APPEND PORTRAIT_TSAN_WRAP_OPTIONS "LINKER:--wrap=${symbol}")
  endforeach()
  list(LENGTH wrapped_symbols wrapped_count)
  message(STATUS "TSan: ${wrapped_count} absl members wrapped (synchronization, Status)")
else()
  target_compile_definitions(portrait_tsan_runtime PRIVATE PORTRAIT_TSAN_NO_WRAP)
  message(STATUS "TSan: absl::Mutex NOT wrapped (PORTRAIT_TSAN_WRAP_ABSL=OFF): expect false reports")
endif()

# Every executable under `dir`, recursively: the runtime object and the wrap options.
function(portrait_tsan_instrument_executables dir)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "EXECUTABLE")
      set_property(TARGET ${target} APPEND PROPERTY LINK_LIBRARIES portrait_tsan_runtime)
      set_property(TARGET ${target} APPEND PROPERTY LINK_OPTIONS ${PORTRAIT_TSAN_WRAP_OPTIONS})
    endif()
  endforeach()
  get_property(subdirectories DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(subdirectory IN LISTS subdirectories)
    portrait_tsan_instrument_executables(${subdirectory})
  endforeach()
endfunction()
