#pragma once
// Lines of metrics.jsonl as the engine writes them (DESIGN.md §3, engine/src/train/trainer.cpp),
// newline included, for the store tests. Numbers are printed with 17 significant digits so that
// what the store keeps can be compared exactly with what was written.

#include <QByteArray>
#include <QString>

namespace bcd::test {

inline QByteArray num(double v) {
    return QByteArray::number(v, 'g', 17);
}

inline QByteArray startLine(int blocks = 4) {
    QByteArray b = "[";
    for (int i = 0; i < blocks; ++i)
        b += (i ? "," : "") + QByteArray(R"({"id":)") + QByteArray::number(i) + R"(,"name":"b)" +
             QByteArray::number(i) + R"(","params":1000})";
    return R"({"t":"start","time":1700000000.5,"device":"cpu","world_size":1,"params":4000,"blocks":)" +
           b + "]}\n";
}

// The loss of a synthetic run: decreasing, with a little wiggle, never equal at two steps.
inline double lossAt(qint64 step) {
    return 5.0 / (1.0 + step * 1e-3) + (step % 7) * 1e-4;
}

inline QByteArray stepLine(qint64 step, double loss, int block = 0) {
    return R"({"t":"step","step":)" + QByteArray::number(step) + R"(,"tokens":)" +
           QByteArray::number(step * 64) + R"(,"loss":)" + num(loss) + R"(,"lr":0.001,"block":)" +
           QByteArray::number(block) + R"(,"grad_norm":)" + num(1.0 + step * 1e-3) +
           R"(,"step_s":0.01,"tok_s":6400.5,"mem_bytes":1346688,)" +
           R"("mem":{"weights":500992,"gradients":65536},"rss_bytes":16568320,"elapsed_s":)" +
           num(step * 0.01) + "}\n";
}
inline QByteArray stepLine(qint64 step) {
    return stepLine(step, lossAt(step));
}

inline QByteArray evalLine(qint64 step, double valLoss) {
    return R"({"t":"eval","step":)" + QByteArray::number(step) + R"(,"val_loss":)" + num(valLoss) +
           "}\n";
}
inline QByteArray switchLine(qint64 step, int from, int to) {
    return R"({"t":"switch","step":)" + QByteArray::number(step) + R"(,"from":)" +
           QByteArray::number(from) + R"(,"to":)" + QByteArray::number(to) + "}\n";
}
inline QByteArray ckptLine(qint64 step) {
    return R"({"t":"ckpt","step":)" + QByteArray::number(step) + R"(,"path":"checkpoints/step-)" +
           QByteArray::number(step).rightJustified(8, '0') + "\"}\n";
}
inline QByteArray resumeLine(qint64 step) {
    return R"({"t":"resume","step":)" + QByteArray::number(step) +
           R"(,"checkpoint":"checkpoints/step-)" + QByteArray::number(step).rightJustified(8, '0') +
           "\"}\n";
}
inline QByteArray endLine(const char* status, qint64 step, const char* message = "") {
    return R"({"t":"end","status":")" + QByteArray(status) + R"(","step":)" +
           QByteArray::number(step) + R"(,"message":")" + QByteArray(message) + "\"}\n";
}

// A phase record (DESIGN.md §3): state begin | progress | end; done/total for evaluations.
inline QByteArray phaseLine(qint64 step, const char* phase, const char* state, double seconds,
                            double elapsed, qint64 done = -1, qint64 total = -1,
                            qint64 bytes = -1) {
    QByteArray out = R"({"t":"phase","step":)" + QByteArray::number(step) + R"(,"phase":")" +
                     phase + R"(","state":")" + state + "\"";
    if (done >= 0) out += R"(,"done":)" + QByteArray::number(done);
    if (total >= 0) out += R"(,"total":)" + QByteArray::number(total);
    if (bytes >= 0) out += R"(,"bytes":)" + QByteArray::number(bytes);
    return out + R"(,"phase_s":)" + num(seconds) + R"(,"elapsed_s":)" + num(elapsed) + "}\n";
}

// Steps [from, to] as step lines.
inline QByteArray stepLines(qint64 from, qint64 to) {
    QByteArray out;
    for (qint64 s = from; s <= to; ++s) out += stepLine(s);
    return out;
}

} // namespace bcd::test
