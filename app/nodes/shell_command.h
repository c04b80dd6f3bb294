#pragma once
// Remote command lines built from quoted arguments (DESIGN.md §4): a run name or a path holding
// quotes, spaces, ';' or '$(…)' reaches the remote program as one argument and runs nothing.
//
// Text becomes a command line only through two doors: arg() quotes a word, and op() takes shell
// syntax that must be a string literal — ShellSyntax's constructor is consteval, so a runtime
// string (user text) cannot be passed as syntax; it does not compile.

#include <QString>
#include <QStringList>
#include <initializer_list>
#include <stdexcept>

namespace bcd::nodes {

class ShellSyntax {
public:
    consteval ShellSyntax(const char* text) : text_(text) {} // NOLINT: implicit on purpose
    const char* text() const { return text_; }

private:
    const char* text_;
};

// POSIX single quoting ('…' with ' written as '\''); words made only of safe characters stay as
// they are. Throws std::invalid_argument for a NUL character, which no argument can hold.
QString shellQuote(const QString& word);

class ShellCommand {
public:
    ShellCommand() = default;
    ShellCommand(std::initializer_list<QString> words) { args(QStringList(words)); }

    ShellCommand& arg(const QString& word);
    ShellCommand& arg(qint64 number) { return arg(QString::number(number)); }
    ShellCommand& args(const QStringList& words);
    ShellCommand& op(ShellSyntax syntax);
    // Syntax followed by a quoted word: redirect(">", path), redirect("2>", path).
    ShellCommand& redirect(ShellSyntax syntax, const QString& path);
    // Another command's text, already built from quoted words (a pipeline, a subshell).
    ShellCommand& append(const ShellCommand& other);

    const QString& text() const { return text_; }

private:
    void add(const QString& piece);
    QString text_;
};

} // namespace bcd::nodes
