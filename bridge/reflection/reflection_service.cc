#include "bridge/reflection/reflection_service.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace portrait_bridge {
namespace {

template <typename Response>
void SetError(const absl::Status& status, Response& response) {
  auto& error = *response.mutable_error_response();
  error.set_error_code(static_cast<int>(status.code()));  // gRPC's codes are Abseil's, number for number.
  error.set_error_message(std::string(status.message()));
}

template <typename Response>
void SetFiles(const absl::StatusOr<std::vector<absl::string_view>>& files, Response& response) {
  if (!files.ok()) {
    SetError(files.status(), response);
    return;
  }
  auto& answer = *response.mutable_file_descriptor_response();
  for (absl::string_view file : *files) answer.add_file_descriptor_proto(file.data(), file.size());
}

}  // namespace

template <typename Request, typename Response>
void AnswerReflectionRequest(const DescriptorIndex& index, const Request& request, Response& response) {
  response.set_valid_host(request.host());
  *response.mutable_original_request() = request;
  switch (request.message_request_case()) {
    case Request::kFileByFilename:
      SetFiles(index.FileByFilename(request.file_by_filename()), response);
      break;
    case Request::kFileContainingSymbol:
      SetFiles(index.FileContainingSymbol(request.file_containing_symbol()), response);
      break;
    case Request::kFileContainingExtension:
      SetFiles(index.FileContainingExtension(request.file_containing_extension().containing_type(),
                                             request.file_containing_extension().extension_number()),
               response);
      break;
    case Request::kAllExtensionNumbersOfType: {
      absl::StatusOr<std::vector<int>> numbers = index.ExtensionNumbersOfType(request.all_extension_numbers_of_type());
      if (!numbers.ok()) {
        SetError(numbers.status(), response);
        break;
      }
      auto& answer = *response.mutable_all_extension_numbers_response();
      answer.set_base_type_name(request.all_extension_numbers_of_type());
      for (int number : *numbers) answer.add_extension_number(number);
      break;
    }
    case Request::kListServices: {
      auto& answer = *response.mutable_list_services_response();
      for (const std::string& name : index.services()) answer.add_service()->set_name(name);
      break;
    }
    default:
      SetError(absl::UnimplementedError("unknown reflection request (no message_request set)"), response);
  }
}

template void AnswerReflectionRequest(const DescriptorIndex&, const grpc::reflection::v1::ServerReflectionRequest&,
                                      grpc::reflection::v1::ServerReflectionResponse&);
template void AnswerReflectionRequest(const DescriptorIndex&, const grpc::reflection::v1alpha::ServerReflectionRequest&,
                                      grpc::reflection::v1alpha::ServerReflectionResponse&);

}  // namespace portrait_bridge
