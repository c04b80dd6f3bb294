#include "nodes/shell_command.h"

namespace bcd::nodes {

namespace {
bool safeChar(QChar c) {
    const char16_t u = c.unicode();
    return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '_' ||
           u == '-' || u == '.' || u == '/' || u == ',' || u == ':' || u == '=' || u == '+' ||
           u == '@' || u == '%';
}
} // namespace

QString shellQuote(const QString& word) {
    if (word.contains(QChar(0)))
        throw std::invalid_argument("a command argument cannot hold a NUL character");
    // A leading '=' is special to zsh; '~' and everything else outside the safe set is quoted.
    bool safe = !word.isEmpty() && word[0] != '=';
    for (QChar c : word)
        if (!safeChar(c)) safe = false;
    if (safe) return word;
    QString q;
    q.reserve(word.size() + 2);
    q += '\'';
    for (QChar c : word) {
        if (c == '\'')
            q += QLatin1String("'\\''");
        else
            q += c;
    }
    q += '\'';
    return q;
}

void ShellCommand::add(const QString& piece) {
    if (!text_.isEmpty()) text_ += ' ';
    text_ += piece;
}

ShellCommand& ShellCommand::arg(const QString& word) {
    add(shellQuote(word));
    return *this;
}

ShellCommand& ShellCommand::args(const QStringList& words) {
    for (const auto& w : words) arg(w);
    return *this;
}

ShellCommand& ShellCommand::op(ShellSyntax syntax) {
    add(QString::fromLatin1(syntax.text()));
    return *this;
}

ShellCommand& ShellCommand::redirect(ShellSyntax syntax, const QString& path) {
    add(QString::fromLatin1(syntax.text()) + shellQuote(path));
    return *this;
}

ShellCommand& ShellCommand::append(const ShellCommand& other) {
    if (!other.text_.isEmpty()) add(other.text_);
    return *this;
}

} // namespace bcd::nodes
