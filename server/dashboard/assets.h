// File: assets.h
//
// The dashboard's static files (server/dashboard/web/), compiled into
// cohortd at configure time: no build step, no CDN, nothing read from disk
// at run time.
#ifndef COHORT_SERVER_DASHBOARD_ASSETS_H_
#define COHORT_SERVER_DASHBOARD_ASSETS_H_

#include <optional>
#include <string_view>

namespace cohort::server::dashboard {

struct Asset {
  std::string_view content_type;
  std::string_view body;
};

// "index.html", "app.js", "style.css", "icon.svg"; nullopt for any other name.
std::optional<Asset> FindAsset(std::string_view name);

}  // namespace cohort::server::dashboard

#endif  // COHORT_SERVER_DASHBOARD_ASSETS_H_
