#ifndef PORTRAIT_BRIDGE_SERVICE_GRPC_SERVER_METRICS_H_
#define PORTRAIT_BRIDGE_SERVICE_GRPC_SERVER_METRICS_H_

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace portrait_bridge {

/// How many grpc::StatusCode values there are: OK (0) to UNAUTHENTICATED (16).
constexpr int kGrpcStatusCodes = 17;

/// Go's codes.Code.String() spelling of a gRPC code ("OK", "Canceled", "InvalidArgument", ...): the value of the
/// grpc_code label in every stock gRPC dashboard.
const char* GrpcCodeLabel(grpc::StatusCode code);

/// The standard gRPC server series, named and labelled as go-grpc-prometheus (and grpc-ecosystem's other
/// exporters) spell them, for every method of every service in the server: grpc_server_started_total,
/// grpc_server_handled_total (with grpc_code), grpc_server_msg_received_total, grpc_server_msg_sent_total and
/// grpc_server_handling_seconds. Fed by a server interceptor (CreateInterceptorFactory) for health, reflection and
/// unknown methods, and by the ProfileService's own reactors for its methods (ReportedByHandler), through the same
/// CallReport: the same series, counted at the same points of a call.
///
/// Label values are bounded: the methods are those of `services` (full names, looked up in the generated
/// descriptor pool), each with every code registered at zero, so that rates and ratios exist before the first
/// call. A call to any other method (answered UNIMPLEMENTED) is counted under grpc_service and grpc_method
/// "unknown". Thread-safe; every hook is a few atomic updates of series resolved here, at construction.
class GrpcServerMetrics {
 public:
  GrpcServerMetrics(prometheus::Registry& registry, const std::vector<std::string>& services);

  /// A factory for ServerBuilder::experimental().SetInterceptorCreators. This object must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> CreateInterceptorFactory();

  /// The series of one method (or of "unknown").
  struct MethodSeries {
    prometheus::Counter* started = nullptr;
    prometheus::Counter* received = nullptr;
    prometheus::Counter* sent = nullptr;
    prometheus::Histogram* handling_seconds = nullptr;
    std::array<prometheus::Counter*, kGrpcStatusCodes> handled{};  // By grpc::StatusCode.
    bool reported_by_handler = false;                              // See ReportedByHandler.
  };
  /// The series of `method` ("/package.Service/Method"); the unknown method's when it is not served.
  const MethodSeries& SeriesOf(const char* method) const;

  /// Marks a served method as counted by its own handler, through a CallReport per call, and returns its series:
  /// the interceptor then leaves that method's calls alone. A call with any interceptor makes every batch of
  /// operations (each read, each write, the status) pass through gRPC's completion queue twice, about 12,000
  /// instructions per one-account lookup on a GetProfiles stream. Call before the server starts; an unknown
  /// method gets the unknown series, unmarked.
  const MethodSeries& ReportedByHandler(const std::string& method);

  /// One call's part in its method's series: started when made, each message as it passes, and the status once.
  /// Its methods only update atomic counters, so reads and writes may report from two threads at once.
  class CallReport {
   public:
    explicit CallReport(const MethodSeries& series);
    /// A call that ends without a status sent (its transport gone before the handler finished) counts as
    /// cancelled, so that started and handled agree.
    ~CallReport();
    CallReport(const CallReport&) = delete;
    CallReport& operator=(const CallReport&) = delete;

    void Received() const { series_.received->Increment(); }
    void Sent() const { series_.sent->Increment(); }
    /// The status being sent; only the first one counts.
    void Handled(grpc::StatusCode code);

   private:
    const MethodSeries& series_;
    const std::chrono::steady_clock::time_point started_;
    bool handled_ = false;  // Set once, by the thread that sends the status; read after it, by the destructor.
  };

 private:
  MethodSeries AddMethod(const std::string& service, const std::string& method, const std::string& type);

  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Counter>& received_;
  prometheus::Family<prometheus::Counter>& sent_;
  prometheus::Family<prometheus::Histogram>& handling_seconds_;
  absl::flat_hash_map<std::string, MethodSeries> methods_;  // By "/package.Service/Method"; read-only once built.
  MethodSeries unknown_;
};

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_SERVICE_GRPC_SERVER_METRICS_H_
