#include "ui/widgets/preset_model.h"

#include "bcd/model.h"

#include <QDir>
#include <QFileInfo>
#include <QObject>

namespace bcd::ui {

QString ensurePresetModel(const QString& preset, const QString& dir) {
    if (QFileInfo(dir + QStringLiteral("/config.json")).isFile() &&
        QFileInfo(dir + QStringLiteral("/model.safetensors")).isFile())
        return {};
    try {
        bcd::Model model(bcd::ModelConfig::preset(preset.toStdString()));
        model.init_random(1);
        // Written beside the target and renamed: a half-written folder is never taken for a model.
        const QString part = dir + QStringLiteral(".part");
        QDir(part).removeRecursively();
        model.save(part.toStdString());
        QDir(dir).removeRecursively();
        if (!QDir().rename(part, dir)) return QObject::tr("cannot rename %1 to %2").arg(part, dir);
        return {};
    } catch (const std::exception& e) {
        return QObject::tr("preset %1 in %2: %3").arg(preset, dir, QString::fromUtf8(e.what()));
    }
}

} // namespace bcd::ui
