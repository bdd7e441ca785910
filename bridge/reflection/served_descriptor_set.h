#ifndef PORTRAIT_BRIDGE_BRIDGE_REFLECTION_SERVED_DESCRIPTOR_SET_H_
#define PORTRAIT_BRIDGE_BRIDGE_REFLECTION_SERVED_DESCRIPTOR_SET_H_

#include "absl/strings/string_view.h"

namespace portrait_bridge {

/// The serialized google.protobuf.FileDescriptorSet that reflection serves: the files defining the bridge's
/// services and error_details.proto, every file they import (each after its imports), all with source info
/// (comments). Written by protoc at build time and compiled in (bridge/reflection/CMakeLists.txt).
absl::string_view ServedDescriptorSet();

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_BRIDGE_REFLECTION_SERVED_DESCRIPTOR_SET_H_
