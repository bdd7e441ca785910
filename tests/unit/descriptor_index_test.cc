// DescriptorIndex and AnswerReflectionRequest (bridge/reflection/) over the descriptor set compiled into the
// bridge, and over small sets made here to show the failures.

#include "bridge/reflection/descriptor_index.h"

#include <gmock/gmock.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "bridge/reflection/reflection_service.h"
#include "bridge/reflection/served_descriptor_set.h"
#include "grpc/health/v1/health.pb.h"
#include "portraitbridge/profile/v1/profile.pb.h"

namespace portrait_bridge {
namespace {

using ::google::protobuf::FileDescriptorProto;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr char kProfileProto[] = "portraitbridge/profile/v1/profile.proto";
const std::vector<std::string> kServices = {"portraitbridge.profile.v1.ProfileService", "grpc.health.v1.Health",
                                            "grpc.reflection.v1.ServerReflection",
                                            "grpc.reflection.v1alpha.ServerReflection"};

google::protobuf::FileDescriptorSet ServedSet() {
  google::protobuf::FileDescriptorSet set;
  EXPECT_TRUE(set.ParseFromArray(ServedDescriptorSet().data(), static_cast<int>(ServedDescriptorSet().size())));
  return set;
}

std::vector<FileDescriptorProto> Parse(const std::vector<absl::string_view>& files) {
  std::vector<FileDescriptorProto> parsed(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    EXPECT_TRUE(parsed[i].ParseFromArray(files[i].data(), static_cast<int>(files[i].size())));
  }
  return parsed;
}

std::vector<std::string> Names(const std::vector<absl::string_view>& files) {
  std::vector<std::string> names;
  for (const FileDescriptorProto& file : Parse(files)) names.push_back(file.name());
  return names;
}

// The leading comment of the element at `path` (FileDescriptorProto field numbers and indexes), or "".
std::string LeadingComment(const FileDescriptorProto& file, const std::vector<int>& path) {
  for (const auto& location : file.source_code_info().location()) {
    if (std::vector<int>(location.path().begin(), location.path().end()) == path) return location.leading_comments();
  }
  return "";
}

int MessageIndex(const FileDescriptorProto& file, const std::string& name) {
  for (int i = 0; i < file.message_type_size(); ++i) {
    if (file.message_type(i).name() == name) return i;
  }
  ADD_FAILURE() << "no message " << name << " in " << file.name();
  return -1;
}

class DescriptorIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<DescriptorIndex>> created =
        DescriptorIndex::Create(ServedDescriptorSet(), kServices);
    ASSERT_TRUE(created.ok()) << created.status();
    index_ = *std::move(created);
  }
  // The first file of a lookup's answer, by name.
  std::string FileOf(const std::string& symbol) {
    absl::StatusOr<std::vector<absl::string_view>> files = index_->FileContainingSymbol(symbol);
    if (!files.ok() || files->empty()) return files.status().ToString();
    return Names(*files)[0];
  }
  std::unique_ptr<DescriptorIndex> index_;
};

TEST_F(DescriptorIndexTest, ListsTheServicesItWasGiven) { EXPECT_EQ(index_->services(), kServices); }

TEST_F(DescriptorIndexTest, FindsTheFileOfEveryKindOfSymbol) {
  for (const char* symbol :
       {"portraitbridge.profile.v1.ProfileService", "portraitbridge.profile.v1.ProfileService.BatchGetProfiles",
        "portraitbridge.profile.v1.ProfileService.GetProfiles", "portraitbridge.profile.v1.BatchGetProfilesRequest",
        "portraitbridge.profile.v1.BatchGetProfilesRequest.accounts", "portraitbridge.profile.v1.ProfileItem.value",
        "portraitbridge.profile.v1.ProfileItem.uint_value", "portraitbridge.profile.v1.ResultCode",
        "portraitbridge.profile.v1.RESULT_CODE_OK"}) {
    EXPECT_EQ(FileOf(symbol), kProfileProto) << symbol;
  }
  // What callers look up beside the schema: health, the details grpcurl decodes, reflection itself.
  EXPECT_EQ(FileOf("grpc.health.v1.Health"), "grpc/health/v1/health.proto");
  EXPECT_EQ(FileOf("grpc.health.v1.Health.Check"), "grpc/health/v1/health.proto");
  EXPECT_EQ(FileOf("grpc.health.v1.HealthCheckResponse.ServingStatus"), "grpc/health/v1/health.proto");
  for (const char* detail : {"google.rpc.BadRequest", "google.rpc.ErrorInfo", "google.rpc.RetryInfo",
                             "google.rpc.BadRequest.FieldViolation"}) {
    EXPECT_EQ(FileOf(detail), "google/rpc/error_details.proto") << detail;
  }
  EXPECT_EQ(FileOf("google.rpc.Status"), "google/rpc/status.proto");
  EXPECT_EQ(FileOf("google.api.http"), "google/api/annotations.proto");
  EXPECT_EQ(FileOf("grpc.reflection.v1.ServerReflection"), "grpc/reflection/v1/reflection.proto");
  EXPECT_EQ(FileOf("grpc.reflection.v1alpha.ServerReflection"), "grpc/reflection/v1alpha/reflection.proto");
}

TEST_F(DescriptorIndexTest, AnswersCarryTheFileThenEachImportOnce) {
  absl::StatusOr<std::vector<absl::string_view>> files = index_->FileByFilename(kProfileProto);
  ASSERT_TRUE(files.ok()) << files.status();
  std::vector<std::string> names = Names(*files);
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names[0], kProfileProto);
  EXPECT_THAT(names, UnorderedElementsAre(kProfileProto, "google/api/annotations.proto", "google/api/http.proto",
                                          "google/protobuf/descriptor.proto", "google/rpc/status.proto",
                                          "google/protobuf/any.proto"));
  // The same answer for a symbol of the file.
  absl::StatusOr<std::vector<absl::string_view>> by_symbol =
      index_->FileContainingSymbol("portraitbridge.profile.v1.AccountResult");
  ASSERT_TRUE(by_symbol.ok());
  EXPECT_EQ(Names(*by_symbol), names);
  EXPECT_THAT(Names(*index_->FileByFilename("google/rpc/error_details.proto")),
              ElementsAre("google/rpc/error_details.proto", "google/protobuf/duration.proto"));
}

TEST_F(DescriptorIndexTest, ServedFilesCarryTheProtoComments) {
  absl::StatusOr<std::vector<absl::string_view>> files =
      index_->FileContainingSymbol("portraitbridge.profile.v1.BatchGetProfilesRequest");
  ASSERT_TRUE(files.ok()) << files.status();
  const FileDescriptorProto profile = Parse(*files)[0];
  const int request = MessageIndex(profile, "BatchGetProfilesRequest");
  // FileDescriptorProto.message_type = 4, DescriptorProto.field = 2, FileDescriptorProto.service = 6.
  EXPECT_EQ(LeadingComment(profile, {4, request}), " One batch lookup: the same tags for every account.\n");
  EXPECT_THAT(LeadingComment(profile, {4, request, 2, 0}), HasSubstr("Tencent UserIDs"));
  EXPECT_THAT(LeadingComment(profile, {6, 0}), HasSubstr("Reads Tencent Cloud Chat user profiles."));
  // Health's comments come along too.
  const FileDescriptorProto health = Parse(*index_->FileByFilename("grpc/health/v1/health.proto"))[0];
  EXPECT_FALSE(health.source_code_info().location().empty());
}

// The served descriptors are the ones the binary's generated code was compiled from (comments aside): the set is
// made in the same build from the same files.
TEST_F(DescriptorIndexTest, ServedFilesMatchTheCompiledInDescriptors) {
  // Referenced so that the linker keeps these generated files and they are in the generated pool.
  ASSERT_NE(portraitbridge::profile::v1::BatchGetProfilesRequest::descriptor(), nullptr);
  ASSERT_NE(grpc::health::v1::HealthCheckRequest::descriptor(), nullptr);
  ASSERT_NE(grpc::reflection::v1::ServerReflectionRequest::descriptor(), nullptr);
  ASSERT_NE(grpc::reflection::v1alpha::ServerReflectionRequest::descriptor(), nullptr);
  const google::protobuf::FileDescriptorSet set = ServedSet();
  ASSERT_EQ(set.file_size(), 11);
  for (FileDescriptorProto served : set.file()) {
    const google::protobuf::FileDescriptor* compiled =
        google::protobuf::DescriptorPool::generated_pool()->FindFileByName(served.name());
    ASSERT_NE(compiled, nullptr) << served.name();
    FileDescriptorProto expected;
    compiled->CopyTo(&expected);
    compiled->CopyJsonNameTo(&expected);
    EXPECT_TRUE(served.has_source_code_info()) << served.name();
    served.clear_source_code_info();
    std::string difference;
    google::protobuf::util::MessageDifferencer differencer;
    differencer.ReportDifferencesToString(&difference);
    EXPECT_TRUE(differencer.Compare(expected, served)) << served.name() << ": " << difference;
  }
}

TEST_F(DescriptorIndexTest, WhatIsNotThereIsNotFound) {
  EXPECT_EQ(index_->FileByFilename("nope.proto").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(index_->FileByFilename("").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(index_->FileContainingSymbol("portraitbridge.profile.v1.Nope").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(index_->FileContainingSymbol("portraitbridge.profile.v1.ProfileService.Nope").status().code(),
            absl::StatusCode::kNotFound);
  // Not served: grpc.channelz is in grpc-proto but not in the bridge.
  EXPECT_EQ(index_->FileContainingSymbol("grpc.channelz.v1.Channelz").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(DescriptorIndexTest, Extensions) {
  // google.api.http extends MethodOptions (72295728): the one extension in the set.
  absl::StatusOr<std::vector<absl::string_view>> files =
      index_->FileContainingExtension("google.protobuf.MethodOptions", 72295728);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(Names(*files)[0], "google/api/annotations.proto");
  EXPECT_EQ(index_->FileContainingExtension("google.protobuf.MethodOptions", 1).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(index_->FileContainingExtension("portraitbridge.profile.v1.Nope", 1).status().code(),
            absl::StatusCode::kNotFound);

  EXPECT_THAT(*index_->ExtensionNumbersOfType("google.protobuf.MethodOptions"), ElementsAre(72295728));
  EXPECT_THAT(*index_->ExtensionNumbersOfType("portraitbridge.profile.v1.AccountResult"), IsEmpty());
  EXPECT_EQ(index_->ExtensionNumbersOfType("portraitbridge.profile.v1.Nope").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(DescriptorIndexCreateTest, RefusesWhatCannotBeServed) {
  absl::StatusOr<std::unique_ptr<DescriptorIndex>> garbage = DescriptorIndex::Create("\xff\xff not a set", {});
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kInvalidArgument);

  // A file without the files it imports.
  google::protobuf::FileDescriptorSet set = ServedSet();
  google::protobuf::FileDescriptorSet alone;
  for (const FileDescriptorProto& file : set.file()) {
    if (file.name() == kProfileProto) *alone.add_file() = file;
  }
  ASSERT_EQ(alone.file_size(), 1);
  absl::StatusOr<std::unique_ptr<DescriptorIndex>> missing_import =
      DescriptorIndex::Create(alone.SerializeAsString(), {});
  EXPECT_EQ(missing_import.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing_import.status().message(), HasSubstr(kProfileProto));

  // A service the set does not define.
  absl::StatusOr<std::unique_ptr<DescriptorIndex>> unknown_service =
      DescriptorIndex::Create(ServedDescriptorSet(), {"grpc.channelz.v1.Channelz"});
  EXPECT_EQ(unknown_service.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown_service.status().message(), HasSubstr("grpc.channelz.v1.Channelz"));
}

// The answers, in both API versions' messages.
template <typename Api>
class AnswerTest : public DescriptorIndexTest {};
struct V1 {
  using Request = grpc::reflection::v1::ServerReflectionRequest;
  using Response = grpc::reflection::v1::ServerReflectionResponse;
};
struct V1Alpha {
  using Request = grpc::reflection::v1alpha::ServerReflectionRequest;
  using Response = grpc::reflection::v1alpha::ServerReflectionResponse;
};
using Apis = ::testing::Types<V1, V1Alpha>;
TYPED_TEST_SUITE(AnswerTest, Apis);

TYPED_TEST(AnswerTest, AnswersEachKindOfRequest) {
  using Request = typename TypeParam::Request;
  using Response = typename TypeParam::Response;
  auto answer = [&](const Request& request) {
    Response response;
    AnswerReflectionRequest(*this->index_, request, response);
    EXPECT_EQ(response.valid_host(), request.host());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(response.original_request(), request));
    return response;
  };
  Request request;
  request.set_host("bridge:50051");
  request.set_list_services("*");
  Response listed = answer(request);
  std::vector<std::string> services;
  for (const auto& service : listed.list_services_response().service()) services.push_back(service.name());
  EXPECT_EQ(services, kServices);

  request.set_file_containing_symbol("portraitbridge.profile.v1.BatchGetProfilesRequest");
  Response found = answer(request);
  ASSERT_EQ(found.message_response_case(), Response::kFileDescriptorResponse);
  FileDescriptorProto profile;
  ASSERT_TRUE(profile.ParseFromString(found.file_descriptor_response().file_descriptor_proto(0)));
  EXPECT_EQ(profile.name(), kProfileProto);
  EXPECT_EQ(found.file_descriptor_response().file_descriptor_proto_size(), 6);

  request.set_file_by_filename("grpc/health/v1/health.proto");
  EXPECT_EQ(answer(request).file_descriptor_response().file_descriptor_proto_size(), 1);

  request.set_file_containing_symbol("portraitbridge.profile.v1.Nope");
  Response not_found = answer(request);
  ASSERT_EQ(not_found.message_response_case(), Response::kErrorResponse);
  EXPECT_EQ(not_found.error_response().error_code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(not_found.error_response().error_message(), HasSubstr("portraitbridge.profile.v1.Nope"));

  request.mutable_file_containing_extension()->set_containing_type("google.protobuf.MethodOptions");
  request.mutable_file_containing_extension()->set_extension_number(72295728);
  EXPECT_EQ(answer(request).file_descriptor_response().file_descriptor_proto_size(), 3);  // + http, descriptor
  request.mutable_file_containing_extension()->set_extension_number(5);
  EXPECT_EQ(answer(request).error_response().error_code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));

  request.set_all_extension_numbers_of_type("google.protobuf.MethodOptions");
  Response numbers = answer(request);
  EXPECT_EQ(numbers.all_extension_numbers_response().base_type_name(), "google.protobuf.MethodOptions");
  EXPECT_THAT(numbers.all_extension_numbers_response().extension_number(), ElementsAre(72295728));
  request.set_all_extension_numbers_of_type("portraitbridge.profile.v1.AccountResult");
  Response none = answer(request);
  ASSERT_EQ(none.message_response_case(), Response::kAllExtensionNumbersResponse);
  EXPECT_THAT(none.all_extension_numbers_response().extension_number(), IsEmpty());
  request.set_all_extension_numbers_of_type("nope.Nope");
  EXPECT_EQ(answer(request).error_response().error_code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));

  request.clear_message_request();  // A kind of request from a later version of the API arrives as none.
  EXPECT_EQ(answer(request).error_response().error_code(), static_cast<int>(grpc::StatusCode::UNIMPLEMENTED));
}

}  // namespace
}  // namespace portrait_bridge
