#ifndef PORTRAIT_BRIDGE_BRIDGE_REFLECTION_DESCRIPTOR_INDEX_H_
#define PORTRAIT_BRIDGE_BRIDGE_REFLECTION_DESCRIPTOR_INDEX_H_

#include <google/protobuf/descriptor.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portrait_bridge {

/// The lookups of gRPC server reflection over one FileDescriptorSet held in memory: what to answer, no gRPC.
/// Answers carry the FileDescriptorProtos as they are in the set, source info (comments) included.
///
/// Every lookup that finds a file answers with that file first, then every file it imports, directly or not, each
/// once: a client can build the descriptors from one answer, whatever it asked before (as gRPC's own reflection
/// does). Lookups that find nothing answer NOT_FOUND. Immutable after Create: safe to call from any thread.
class DescriptorIndex {
 public:
  /// `serialized_set`: a google.protobuf.FileDescriptorSet whose files each come after the files they import (as
  /// protoc --include_imports writes them). `services`: the full names of the services the server registers
  /// (what list_services answers); each must be defined in the set. Fails with INVALID_ARGUMENT when the set does
  /// not parse or build (a missing import, a duplicate symbol) or a service is not in it.
  static absl::StatusOr<std::unique_ptr<DescriptorIndex>> Create(absl::string_view serialized_set,
                                                                 std::vector<std::string> services);

  /// The service names given to Create, in that order.
  const std::vector<std::string>& services() const { return services_; }

  /// The serialized FileDescriptorProtos for a file name ("portraitbridge/profile/v1/profile.proto").
  absl::StatusOr<std::vector<absl::string_view>> FileByFilename(absl::string_view filename) const;

  /// The same for the file that defines a fully qualified symbol: a service, a method
  /// ("portraitbridge.profile.v1.ProfileService.GetProfiles"), a message (nested ones too), a field, a oneof, an
  /// enum, an enum value or an extension.
  absl::StatusOr<std::vector<absl::string_view>> FileContainingSymbol(absl::string_view symbol) const;

  /// The same for the file that defines extension `number` of the message `containing_type`
  /// ("google.protobuf.MethodOptions", 72295728: google.api.http).
  absl::StatusOr<std::vector<absl::string_view>> FileContainingExtension(absl::string_view containing_type,
                                                                         int number) const;

  /// The numbers of the extensions of the message `type` defined in the set, ascending (none: an empty list);
  /// NOT_FOUND when the set has no such message.
  absl::StatusOr<std::vector<int>> ExtensionNumbersOfType(absl::string_view type) const;

 private:
  explicit DescriptorIndex(std::vector<std::string> services) : services_(std::move(services)) {}

  // `file` and its imports, serialized.
  std::vector<absl::string_view> WithImports(const google::protobuf::FileDescriptor& file) const;

  std::vector<std::string> services_;
  // Built from the set, for resolving names; its descriptors carry no source info, the served bytes do.
  google::protobuf::DescriptorPool pool_;
  // File name -> the FileDescriptorProto as served.
  absl::flat_hash_map<std::string, std::string> serialized_;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_BRIDGE_REFLECTION_DESCRIPTOR_INDEX_H_
