#include "bridge/service/grpc_server_metrics.h"

#include <google/protobuf/descriptor.h>
#include <grpcpp/support/interceptor.h>

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"

namespace portrait_bridge {
namespace {

// Handling time spans unary calls (milliseconds) and streams held open for minutes.
const prometheus::Histogram::BucketBoundaries kHandlingBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                                  0.5,   1,      2.5,   5,    10,    30,   60,  300};

constexpr char kUnknown[] = "unknown";

const char* TypeLabel(const google::protobuf::MethodDescriptor& method) {
  if (method.client_streaming()) return method.server_streaming() ? "bidi_stream" : "client_stream";
  return method.server_streaming() ? "server_stream" : "unary";
}

// Counts one call of a method its handler does not report itself: started when gRPC creates it, a message each way
// as it passes, and the status as it is sent.
class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit MetricsInterceptor(const GrpcServerMetrics::MethodSeries& series) : report_(series) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    // A failed read (the end of the client's stream) also passes here, without a message.
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr) {
      report_.Received();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) report_.Sent();
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      report_.Handled(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  GrpcServerMetrics::CallReport report_;
};

class MetricsInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(const GrpcServerMetrics& metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    const GrpcServerMetrics::MethodSeries& series = metrics_.SeriesOf(info->method());
    // No interceptor at all for the call (gRPC then skips interception), rather than one that passes.
    if (series.reported_by_handler) return nullptr;
    return new MetricsInterceptor(series);
  }

 private:
  const GrpcServerMetrics& metrics_;
};

}  // namespace

const char* GrpcCodeLabel(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "Canceled";
    case grpc::StatusCode::UNKNOWN:
      return "Unknown";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "InvalidArgument";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DeadlineExceeded";
    case grpc::StatusCode::NOT_FOUND:
      return "NotFound";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "AlreadyExists";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PermissionDenied";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "ResourceExhausted";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FailedPrecondition";
    case grpc::StatusCode::ABORTED:
      return "Aborted";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OutOfRange";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "Unimplemented";
    case grpc::StatusCode::INTERNAL:
      return "Internal";
    case grpc::StatusCode::UNAVAILABLE:
      return "Unavailable";
    case grpc::StatusCode::DATA_LOSS:
      return "DataLoss";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "Unauthenticated";
    default:
      return "Unknown";
  }
}

GrpcServerMetrics::GrpcServerMetrics(prometheus::Registry& registry, const std::vector<std::string>& services)
    : started_(prometheus::BuildCounter()
                   .Name("grpc_server_started_total")
                   .Help("RPCs started on the server, by service, method and type")
                   .Register(registry)),
      handled_(prometheus::BuildCounter()
                   .Name("grpc_server_handled_total")
                   .Help("RPCs completed on the server, by service, method, type and gRPC status code")
                   .Register(registry)),
      received_(prometheus::BuildCounter()
                    .Name("grpc_server_msg_received_total")
                    .Help("Messages received from clients, by service, method and type")
                    .Register(registry)),
      sent_(prometheus::BuildCounter()
                .Name("grpc_server_msg_sent_total")
                .Help("Messages sent to clients, by service, method and type")
                .Register(registry)),
      handling_seconds_(prometheus::BuildHistogram()
                            .Name("grpc_server_handling_seconds")
                            .Help("Time from an RPC's start to its status being sent (a stream's whole life), by "
                                  "service, method and type")
                            .Register(registry)),
      // How gRPC serves a method it does not know: a bidi stream answered UNIMPLEMENTED.
      unknown_(AddMethod(kUnknown, kUnknown, "bidi_stream")) {
  for (const std::string& service_name : services) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service_name);
    if (service == nullptr) continue;  // Not compiled in: its calls count as unknown.
    for (int i = 0; i < service->method_count(); ++i) {
      const google::protobuf::MethodDescriptor& method = *service->method(i);
      methods_.emplace(absl::StrCat("/", service_name, "/", method.name()),
                       AddMethod(service_name, method.name(), TypeLabel(method)));
    }
  }
}

GrpcServerMetrics::MethodSeries GrpcServerMetrics::AddMethod(const std::string& service, const std::string& method,
                                                             const std::string& type) {
  MethodSeries series;
  // Label sets written out at each Add, where tests/helm/run.sh reads the label names of each series.
  series.started = &started_.Add({{"grpc_service", service}, {"grpc_method", method}, {"grpc_type", type}});
  series.received = &received_.Add({{"grpc_service", service}, {"grpc_method", method}, {"grpc_type", type}});
  series.sent = &sent_.Add({{"grpc_service", service}, {"grpc_method", method}, {"grpc_type", type}});
  series.handling_seconds = &handling_seconds_.Add(
      {{"grpc_service", service}, {"grpc_method", method}, {"grpc_type", type}}, kHandlingBuckets);
  for (size_t code = 0; code < series.handled.size(); ++code) {
    series.handled[code] = &handled_.Add({{"grpc_service", service},
                                          {"grpc_method", method},
                                          {"grpc_type", type},
                                          {"grpc_code", GrpcCodeLabel(static_cast<grpc::StatusCode>(code))}});
  }
  return series;
}

const GrpcServerMetrics::MethodSeries& GrpcServerMetrics::SeriesOf(const char* method) const {
  if (method == nullptr) return unknown_;
  auto it = methods_.find(method);
  return it != methods_.end() ? it->second : unknown_;
}

const GrpcServerMetrics::MethodSeries& GrpcServerMetrics::ReportedByHandler(const std::string& method) {
  const auto it = methods_.find(method);
  if (it == methods_.end()) return unknown_;
  it->second.reported_by_handler = true;
  return it->second;
}

GrpcServerMetrics::CallReport::CallReport(const MethodSeries& series)
    : series_(series), started_(std::chrono::steady_clock::now()) {
  series_.started->Increment();
}

GrpcServerMetrics::CallReport::~CallReport() {
  if (!handled_) Handled(grpc::StatusCode::CANCELLED);
}

void GrpcServerMetrics::CallReport::Handled(grpc::StatusCode code) {
  if (handled_) return;
  handled_ = true;
  const size_t index =
      static_cast<size_t>(code) < series_.handled.size() ? static_cast<size_t>(code) : grpc::StatusCode::UNKNOWN;
  series_.handled[index]->Increment();
  series_.handling_seconds->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> GrpcServerMetrics::CreateInterceptorFactory() {
  return std::make_unique<MetricsInterceptorFactory>(*this);
}

}  // namespace portrait_bridge
