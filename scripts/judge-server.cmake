# Included into llama.cpp's configure by scripts/judge-server (CMAKE_PROJECT_llama.cpp_INCLUDE).
#
# llama-server links the multimodal library (tools/mtmd: ~45 vision/audio model files) that a
# text-only judge never runs. Its model files are compiled as unity batches instead of one
# object each, as llama.cpp already does for src/models; the library's own sources stay
# separate (mtmd-helper refuses to share a unit with mtmd's internals). The vendored source is
# not touched. The call is deferred to the end of the top-level configure, once mtmd exists.
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL _judge_server_trim)

function(_judge_server_trim)
  if(NOT TARGET mtmd)
    return()
  endif()
  set_target_properties(mtmd PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 16)
  get_target_property(sources mtmd SOURCES)
  get_target_property(folder mtmd SOURCE_DIR)
  foreach(source IN LISTS sources)
    if(NOT source MATCHES "^models/")
      # Relative names would resolve against this (top-level) directory: make them absolute.
      set_source_files_properties(${folder}/${source} TARGET_DIRECTORY mtmd
                                  PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
    endif()
  endforeach()
endfunction()
