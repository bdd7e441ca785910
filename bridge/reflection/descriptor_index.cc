#include "bridge/reflection/descriptor_index.h"

#include <google/protobuf/descriptor.pb.h>

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace portrait_bridge {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::FileDescriptor;

// Collects the first build error of a file (a missing import, a duplicate symbol) for Create's message.
class BuildErrors : public google::protobuf::DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& filename, const std::string& element_name, const google::protobuf::Message*,
                ErrorLocation, const std::string& message) override {
    if (first_.empty()) first_ = absl::StrCat(filename, ": ", element_name, ": ", message);
  }
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DescriptorIndex>> DescriptorIndex::Create(absl::string_view serialized_set,
                                                                         std::vector<std::string> services) {
  google::protobuf::FileDescriptorSet set;
  if (!set.ParseFromArray(serialized_set.data(), static_cast<int>(serialized_set.size()))) {
    return absl::InvalidArgumentError("the descriptor set does not parse as a google.protobuf.FileDescriptorSet");
  }
  std::unique_ptr<DescriptorIndex> index(new DescriptorIndex(std::move(services)));
  for (const google::protobuf::FileDescriptorProto& file : set.file()) {
    BuildErrors errors;
    if (index->pool_.BuildFileCollectingErrors(file, &errors) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("descriptor set: cannot build ", file.name(), ": ", errors.first()));
    }
    index->serialized_[file.name()] = file.SerializeAsString();
  }
  for (const std::string& service : index->services_) {
    if (index->pool_.FindServiceByName(service) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("service ", service, " is not defined in the descriptor set"));
    }
  }
  return index;
}

std::vector<absl::string_view> DescriptorIndex::WithImports(const FileDescriptor& file) const {
  std::vector<absl::string_view> files;
  absl::flat_hash_set<const FileDescriptor*> seen = {&file};
  std::vector<const FileDescriptor*> pending = {&file};
  while (!pending.empty()) {
    const FileDescriptor* next = pending.back();
    pending.pop_back();
    files.push_back(serialized_.at(next->name()));  // Every file of the pool came from the set.
    for (int i = next->dependency_count() - 1; i >= 0; --i) {
      if (seen.insert(next->dependency(i)).second) pending.push_back(next->dependency(i));
    }
  }
  return files;
}

absl::StatusOr<std::vector<absl::string_view>> DescriptorIndex::FileByFilename(absl::string_view filename) const {
  const FileDescriptor* file = pool_.FindFileByName(std::string(filename));
  if (file == nullptr) return absl::NotFoundError(absl::StrCat("no file ", filename));
  return WithImports(*file);
}

absl::StatusOr<std::vector<absl::string_view>> DescriptorIndex::FileContainingSymbol(absl::string_view symbol) const {
  const FileDescriptor* file = pool_.FindFileContainingSymbol(std::string(symbol));
  if (file == nullptr) return absl::NotFoundError(absl::StrCat("no symbol ", symbol));
  return WithImports(*file);
}

absl::StatusOr<std::vector<absl::string_view>> DescriptorIndex::FileContainingExtension(
    absl::string_view containing_type, int number) const {
  const Descriptor* type = pool_.FindMessageTypeByName(std::string(containing_type));
  if (type == nullptr) return absl::NotFoundError(absl::StrCat("no message ", containing_type));
  const FieldDescriptor* extension = pool_.FindExtensionByNumber(type, number);
  if (extension == nullptr) {
    return absl::NotFoundError(absl::StrCat("no extension ", number, " of ", containing_type));
  }
  return WithImports(*extension->file());
}

absl::StatusOr<std::vector<int>> DescriptorIndex::ExtensionNumbersOfType(absl::string_view type) const {
  const Descriptor* descriptor = pool_.FindMessageTypeByName(std::string(type));
  if (descriptor == nullptr) return absl::NotFoundError(absl::StrCat("no message ", type));
  std::vector<const FieldDescriptor*> extensions;
  pool_.FindAllExtensions(descriptor, &extensions);
  std::vector<int> numbers;
  numbers.reserve(extensions.size());
  for (const FieldDescriptor* extension : extensions) numbers.push_back(extension->number());
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

}  // namespace portrait_bridge
