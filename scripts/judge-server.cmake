# Included into llama.cpp's configure by scripts/judge-server (CMAKE_PROJECT_llama.cpp_INCLUDE).
#
# llama-server links the multimodal library (tools/mtmd: ~45 vision/audio model files) that a
# text-only judge never runs. Compiling it as one unity file instead of 51 objects cuts the
# build without touching the vendored source. The call is deferred to the end of the top-level
# configure, once the mtmd target exists.
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL _judge_server_trim)

function(_judge_server_trim)
  if(TARGET mtmd)
    set_target_properties(mtmd PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 64)
  endif()
endfunction()
