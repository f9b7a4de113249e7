#include "server/metrics/metrics.h"

#include <exception>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/tls_inspect.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace cohort::server {
namespace {

constexpr StepState kAllStates[] = {
    StepState::kWaiting,   StepState::kReady,  StepState::kLeased,
    StepState::kSucceeded, StepState::kFailed, StepState::kBlocked,
    StepState::kSkipped,   StepState::kCancelled,
};

// gRPC status code names as grpc_status_code spells them.
std::string CodeName(int code) {
  static constexpr const char* kNames[] = {
      "OK",        "CANCELLED",          "UNKNOWN",           "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND",  "ALREADY_EXISTS",    "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",        "UNAVAILABLE",       "DATA_LOSS",
      "UNAUTHENTICATED"};
  if (code >= 0 && code < static_cast<int>(std::size(kNames))) return kNames[code];
  return absl::StrCat(code);
}

prometheus::MetricFamily Family(const std::string& name, const std::string& help,
                                prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  return family;
}

prometheus::ClientMetric Gauge(double value,
                               std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  return metric;
}

prometheus::ClientMetric Counter(double value) {
  prometheus::ClientMetric metric;
  metric.counter.value = value;
  return metric;
}

// Reads the coordinator on every scrape.
class CoordinatorCollector : public prometheus::Collectable {
 public:
  CoordinatorCollector(Coordinator& coordinator, Clock& clock,
                       absl::Duration active_window)
      : coordinator_(coordinator), clock_(clock), active_window_(active_window) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    using prometheus::MetricType;
    std::vector<prometheus::MetricFamily> families;
    absl::StatusOr<std::map<StepState, int64_t>> counts = coordinator_.StepCounts();
    if (counts.ok()) {
      prometheus::MetricFamily steps =
          Family("cohort_steps", "Steps in each state.", MetricType::Gauge);
      for (StepState state : kAllStates) {
        auto it = counts->find(state);
        double n = it == counts->end() ? 0 : static_cast<double>(it->second);
        steps.metric.push_back(Gauge(n, {{"state", std::string(StepStateName(state))}}));
      }
      families.push_back(std::move(steps));
      prometheus::MetricFamily ready = Family(
          "cohort_ready_queue_depth", "Steps ready to run and not leased.",
          MetricType::Gauge);
      auto it = counts->find(StepState::kReady);
      ready.metric.push_back(
          Gauge(it == counts->end() ? 0 : static_cast<double>(it->second)));
      families.push_back(std::move(ready));
    }
    absl::StatusOr<std::vector<WorkerRecord>> workers = coordinator_.ListWorkers();
    if (workers.ok()) {
      absl::Time since = clock_.Now() - active_window_;
      int64_t active = 0;
      for (const WorkerRecord& w : *workers) {
        if (w.last_heartbeat >= since) ++active;
      }
      prometheus::MetricFamily registered = Family(
          "cohort_workers_registered", "Workers ever registered.", MetricType::Gauge);
      registered.metric.push_back(Gauge(static_cast<double>(workers->size())));
      families.push_back(std::move(registered));
      prometheus::MetricFamily live = Family(
          "cohort_workers_active",
          absl::StrCat("Workers that registered or heartbeated in the last ",
                       absl::FormatDuration(active_window_), "."),
          MetricType::Gauge);
      live.metric.push_back(Gauge(static_cast<double>(active)));
      families.push_back(std::move(live));
    }
    Coordinator::Stats stats = coordinator_.GetStats();
    prometheus::MetricFamily waiting = Family(
        "cohort_lease_polls_waiting", "Lease long polls parked in the coordinator.",
        MetricType::Gauge);
    waiting.metric.push_back(Gauge(static_cast<double>(stats.waiting_workers)));
    families.push_back(std::move(waiting));
    struct CounterSpec {
      const char* name;
      const char* help;
      uint64_t value;
    };
    const CounterSpec counters[] = {
        {"cohort_leases_granted_total", "Leases granted since cohortd started.",
         stats.leases_granted},
        {"cohort_lease_expiries_total",
         "Leases that expired (worker presumed dead) since cohortd started.",
         stats.leases_expired},
        {"cohort_results_inserted_total",
         "Result rows written since cohortd started.", stats.results_inserted},
        {"cohort_results_duplicate_total",
         "Result rows received again and ignored since cohortd started.",
         stats.results_duplicate},
    };
    for (const CounterSpec& spec : counters) {
      prometheus::MetricFamily family =
          Family(spec.name, spec.help, MetricType::Counter);
      family.metric.push_back(Counter(static_cast<double>(spec.value)));
      families.push_back(std::move(family));
    }
    return families;
  }

 private:
  Coordinator& coordinator_;
  Clock& clock_;
  const absl::Duration active_window_;
};

// Days left on certificate files, read on every scrape.
class CertificateCollector : public prometheus::Collectable {
 public:
  explicit CertificateCollector(Clock& clock) : clock_(clock) {}

  void Add(const std::string& role, const std::string& path) {
    absl::MutexLock lock(&mu_);
    files_.emplace_back(role, path);
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<std::pair<std::string, std::string>> files;
    {
      absl::MutexLock lock(&mu_);
      files = files_;
    }
    if (files.empty()) return {};
    prometheus::MetricFamily family =
        Family("cohort_tls_certificate_expiry_days",
               "Days until the certificate expires (negative: expired), read on each scrape.",
               prometheus::MetricType::Gauge);
    for (const auto& [role, path] : files) {
      absl::StatusOr<CertificateInfo> info = ReadCertificateFile(path);
      if (!info.ok()) continue;
      double days = absl::ToDoubleHours(info->not_after - clock_.Now()) / 24;
      family.metric.push_back(Gauge(days, {{"role", role}, {"file", path}}));
    }
    return {std::move(family)};
  }

 private:
  Clock& clock_;
  mutable absl::Mutex mu_;
  std::vector<std::pair<std::string, std::string>> files_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

struct CohortMetrics::Impl {
  std::shared_ptr<prometheus::Registry> registry =
      std::make_shared<prometheus::Registry>();
  std::shared_ptr<CoordinatorCollector> collector;
  std::shared_ptr<CertificateCollector> certificates;
  prometheus::Family<prometheus::Histogram>* rpc_duration = nullptr;
  absl::Mutex mu;
  // (method, code) -> its histogram; owned by rpc_duration.
  std::map<std::pair<std::string, int>, prometheus::Histogram*> rpc_histograms
      ABSL_GUARDED_BY(mu);
  prometheus::Family<prometheus::Counter>* refused_unread = nullptr;
  // (method, code) -> its counter; owned by refused_unread.
  std::map<std::pair<std::string, int>, prometheus::Counter*> refused_counters
      ABSL_GUARDED_BY(mu);
  std::unique_ptr<prometheus::Exposer> exposer ABSL_GUARDED_BY(mu);
};

CohortMetrics::CohortMetrics(Coordinator& coordinator, Clock& clock,
                             absl::Duration active_window)
    : impl_(std::make_unique<Impl>()) {
  impl_->collector =
      std::make_shared<CoordinatorCollector>(coordinator, clock, active_window);
  impl_->certificates = std::make_shared<CertificateCollector>(clock);
  impl_->rpc_duration = &prometheus::BuildHistogram()
                             .Name("cohort_rpc_duration_seconds")
                             .Help("gRPC calls from handler start to status sent "
                                   "(lease long polls include their wait).")
                             .Register(*impl_->registry);
  impl_->refused_unread = &prometheus::BuildCounter()
                               .Name("cohort_rpc_refused_unread_total")
                               .Help("gRPC calls refused from their headers (token or "
                                     "role) before their request was read.")
                               .Register(*impl_->registry);
}

CohortMetrics::~CohortMetrics() {
  // Stop serving before the collectors go away.
  absl::MutexLock lock(&impl_->mu);
  impl_->exposer.reset();
}

absl::StatusOr<int> CohortMetrics::Serve(const std::string& listen) {
  size_t colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics address '", listen, "' is not host:port"));
  }
  absl::MutexLock lock(&impl_->mu);
  if (impl_->exposer != nullptr) {
    return absl::FailedPreconditionError("metrics already served");
  }
  // prometheus-cpp reports bind failures by throwing; nothing escapes here.
  try {
    // Several threads and a request timeout: with one thread, a client that
    // sent half a request held the listener, and every scrape waited.
    auto exposer = std::make_unique<prometheus::Exposer>(std::vector<std::string>{
        "listening_ports", listen, "num_threads", "4", "request_timeout_ms", "5000"});
    exposer->RegisterCollectable(impl_->registry);
    exposer->RegisterCollectable(impl_->collector);
    exposer->RegisterCollectable(impl_->certificates);
    std::vector<int> ports = exposer->GetListeningPorts();
    if (ports.empty()) {
      return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", listen));
    }
    impl_->exposer = std::move(exposer);
    return ports.front();
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", listen, ": ", e.what()));
  }
}

void CohortMetrics::ObserveRpc(absl::string_view method, int code,
                               absl::Duration latency) {
  prometheus::Histogram* histogram = nullptr;
  {
    absl::MutexLock lock(&impl_->mu);
    auto key = std::make_pair(std::string(method), code);
    auto it = impl_->rpc_histograms.find(key);
    if (it == impl_->rpc_histograms.end()) {
      static const prometheus::Histogram::BucketBoundaries kBuckets = {
          0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
          0.25,   0.5,   1,      2.5,   5,    10,   30};
      prometheus::Histogram& added = impl_->rpc_duration->Add(
          {{"method", key.first}, {"code", CodeName(code)}}, kBuckets);
      it = impl_->rpc_histograms.emplace(std::move(key), &added).first;
    }
    histogram = it->second;
  }
  histogram->Observe(absl::ToDoubleSeconds(latency));
}

void CohortMetrics::ObserveRefusedUnread(absl::string_view method, int code) {
  // The method is the caller's :path, anything at all: a caller with no
  // token must not grow the registry without bound.
  constexpr size_t kMaxSeries = 64;
  prometheus::Counter* counter = nullptr;
  {
    absl::MutexLock lock(&impl_->mu);
    auto key = std::make_pair(std::string(method), code);
    auto it = impl_->refused_counters.find(key);
    if (it == impl_->refused_counters.end()) {
      if (impl_->refused_counters.size() >= kMaxSeries || key.first.size() > 128) {
        key.first = "other";
        it = impl_->refused_counters.find(key);
      }
    }
    if (it == impl_->refused_counters.end()) {
      prometheus::Counter& added = impl_->refused_unread->Add(
          {{"method", key.first}, {"code", CodeName(code)}});
      it = impl_->refused_counters.emplace(std::move(key), &added).first;
    }
    counter = it->second;
  }
  counter->Increment();
}

std::string CohortMetrics::Render() const {
  std::vector<prometheus::MetricFamily> families = impl_->registry->Collect();
  std::vector<prometheus::MetricFamily> live = impl_->collector->Collect();
  families.insert(families.end(), std::make_move_iterator(live.begin()),
                  std::make_move_iterator(live.end()));
  std::vector<prometheus::MetricFamily> certificates = impl_->certificates->Collect();
  families.insert(families.end(), std::make_move_iterator(certificates.begin()),
                  std::make_move_iterator(certificates.end()));
  return prometheus::TextSerializer().Serialize(families);
}

void CohortMetrics::WatchCertificate(const std::string& role, const std::string& path) {
  impl_->certificates->Add(role, path);
}

}  // namespace cohort::server
