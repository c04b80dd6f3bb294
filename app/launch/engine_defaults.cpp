#include "launch/engine_defaults.h"

#include "bcd/run_config.h"
#include "store/compare.h"

#include <QJsonDocument>
#include <initializer_list>
#include <nlohmann/json.hpp>

namespace bcd::launch {

const QJsonObject& engineDefaults() {
    static const QJsonObject defaults = [] {
        QJsonObject d =
            QJsonDocument::fromJson(QByteArray::fromStdString(bcd::RunConfig{}.to_json().dump()))
                .object();
        const auto drop = [&d](const char* section, std::initializer_list<const char*> keys) {
            QJsonObject o = d.value(QLatin1String(section)).toObject();
            for (const char* k : keys) o.remove(QLatin1String(k));
            d.insert(QLatin1String(section), o);
        };
        d.remove(QStringLiteral("model"));
        drop("data", {"train", "val", "tokenizer"});
        drop("output", {"dir"});
        return d;
    }();
    return defaults;
}

QJsonObject resolvedConfig(const QJsonObject& config) {
    return store::withDefaults(config, engineDefaults());
}

} // namespace bcd::launch
