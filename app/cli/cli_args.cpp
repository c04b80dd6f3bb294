#include "cli/cli_args.h"

#include "cli/cli.h"

namespace bcd::cli {

Args::Args(const QString& command, const QStringList& argv, const Spec& spec) : command_(command) {
    for (qsizetype i = 0; i < argv.size(); ++i) {
        const QString& a = argv[i];
        if (!a.startsWith(QLatin1String("--")) || a == QLatin1String("--")) {
            positional_ << a;
            continue;
        }
        QString name = a.mid(2), value;
        bool inlineValue = false;
        if (const qsizetype eq = name.indexOf('='); eq >= 0) {
            value = name.mid(eq + 1);
            name = name.left(eq);
            inlineValue = true;
        }
        const bool takesValue = spec.values.contains(name) || spec.repeatable.contains(name);
        if (!takesValue && !spec.flags.contains(name) && !spec.optionalValue.contains(name)) {
            QStringList all = QStringList(spec.values.values()) + spec.flags.values() +
                              spec.repeatable.values() + spec.optionalValue.values();
            all.sort();
            for (auto& x : all) x.prepend(QLatin1String("--"));
            throw UsageError(
                QStringLiteral("%1: unknown option --%2 (expected %3)")
                    .arg(command_, name, all.isEmpty() ? QStringLiteral("none") : all.join(", ")));
        }
        if (spec.flags.contains(name) && inlineValue)
            throw UsageError(QStringLiteral("%1: --%2 takes no value").arg(command_, name));
        if (takesValue && !inlineValue) {
            if (i + 1 >= argv.size())
                throw UsageError(QStringLiteral("%1: --%2 needs a value").arg(command_, name));
            value = argv[++i];
        }
        if (values_.contains(name) && !spec.repeatable.contains(name))
            throw UsageError(QStringLiteral("%1: --%2 given twice").arg(command_, name));
        values_[name] << value;
    }
}

QString Args::value(const QString& name, const QString& fallback) const {
    const QStringList v = values_.value(name);
    return v.isEmpty() ? fallback : v.back();
}

QString Args::required(const QString& name) const {
    if (!has(name) || value(name).isEmpty())
        throw UsageError(QStringLiteral("%1: --%2 is required").arg(command_, name));
    return value(name);
}

double Args::number(const QString& name) const {
    bool ok = false;
    const double v = value(name).toDouble(&ok);
    if (!ok)
        throw UsageError(QStringLiteral("%1: --%2: expected a number, got '%3'")
                             .arg(command_, name, value(name)));
    return v;
}

} // namespace bcd::cli
