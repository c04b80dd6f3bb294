#pragma once
// Options of one command: "--name value", "--name=value", flags, repeatable options; anything
// else is refused by name (UsageError).

#include <QMap>
#include <QSet>
#include <QStringList>

namespace bcd::cli {

class Args {
public:
    struct Spec {
        QSet<QString> values;        // take a value
        QSet<QString> flags;         // take none
        QSet<QString> repeatable;    // take a value, may repeat
        QSet<QString> optionalValue; // a flag, or --name=value
    };
    Args(const QString& command, const QStringList& argv, const Spec& spec);

    bool has(const QString& name) const { return values_.contains(name); }
    QString value(const QString& name, const QString& fallback = {}) const;
    QStringList values(const QString& name) const { return values_.value(name); }
    QString required(const QString& name) const;
    bool flag(const QString& name) const { return has(name); }
    double number(const QString& name) const; // UsageError unless a number
    const QStringList& positional() const { return positional_; }

private:
    QString command_;
    QMap<QString, QStringList> values_;
    QStringList positional_;
};

} // namespace bcd::cli
