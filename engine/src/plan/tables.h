#pragma once
// The built-in hardware and price tables: resources/gpus.json and resources/gpu-prices.json,
// compiled in (tables.cpp is generated from tables.cpp.in at configure time).

namespace bcd::plan_tables {

extern const char* const kGpusJson;
extern const char* const kPricesJson;

} // namespace bcd::plan_tables
