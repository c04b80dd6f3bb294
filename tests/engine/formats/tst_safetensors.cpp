// Safetensors reader, writer and 16-bit conversions: round trips, known bit patterns, every kind
// of corrupt header (each must be an InputError naming the file and the field), and the writer's
// atomic replacement of an existing file.

#include "bcd/errors.h"
#include "bcd/safetensors.h"

#include <QtTest>
#include <bit>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <sys/resource.h>
#include <unistd.h>

namespace fs = std::filesystem;
using bcd::DType;

namespace {

const std::string kLabel = "corrupt.safetensors";

// A file image: the 8-byte little-endian header length, the header text, `data_bytes` bytes.
QByteArray image_with_length(std::uint64_t header_len, const std::string& header,
                             std::size_t data_bytes = 0) {
    QByteArray b(8, '\0');
    std::memcpy(b.data(), &header_len, 8);
    b.append(header.data(), static_cast<qsizetype>(header.size()));
    b.append(QByteArray(static_cast<qsizetype>(data_bytes), '\0'));
    return b;
}

QByteArray image(const std::string& header, std::size_t data_bytes = 0) {
    return image_with_length(header.size(), header, data_bytes);
}

// An image with a single tensor entry "w" whose fields are `fields` (JSON text).
QByteArray one_tensor(const std::string& fields, std::size_t data_bytes = 16) {
    return image(R"({"w": {)" + fields + "}}", data_bytes);
}

std::span<const std::byte> bytes_of(const QByteArray& b) {
    return {reinterpret_cast<const std::byte*>(b.constData()), static_cast<std::size_t>(b.size())};
}

// Runs f and returns the InputError's message; anything else (or nothing thrown) is reported as
// a message that no test expects.
std::string input_error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const bcd::InputError& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("<not an InputError: ") + e.what() + ">";
    }
    return "<no exception>";
}

std::vector<char> read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

float from_bits(std::uint32_t b) {
    return std::bit_cast<float>(b);
}
std::uint32_t bits(float f) {
    return std::bit_cast<std::uint32_t>(f);
}

// What a value becomes after a store as `dtype` and a load back.
float stored(float v, DType dtype) {
    switch (dtype) {
    case DType::F32:
        return v;
    case DType::F16:
        return bcd::f16_to_f32(bcd::f32_to_f16(v));
    case DType::BF16:
        return bcd::bf16_to_f32(bcd::f32_to_bf16(v));
    }
    return v;
}

bool same_bits(std::span<const float> a, std::span<const float> b) {
    return a.size() == b.size() &&
           (a.empty() || std::memcmp(a.data(), b.data(), a.size_bytes()) == 0);
}

// Whether the process has `file` memory-mapped (a leaked or double-owned mapping shows here).
bool is_mapped(const fs::path& file) {
    std::ifstream maps("/proc/self/maps");
    const std::string name = fs::canonical(file).string();
    for (std::string line; std::getline(maps, line);)
        if (line.ends_with(" " + name)) return true;
    return false;
}

std::vector<std::string> entries_of(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

} // namespace

Q_DECLARE_METATYPE(bcd::DType)

class TestSafetensors : public QObject {
    Q_OBJECT

private:
    fs::path dir_;
    fs::path fresh_dir(const std::string& name) {
        fs::path d = dir_ / name;
        fs::remove_all(d);
        fs::create_directories(d);
        return d;
    }

private slots:
    void initTestCase() {
        dir_ = fs::path(BCD_TEST_TMP) / ("safetensors-" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void cleanupTestCase() {
        std::error_code ec;
        fs::permissions(dir_ / "readonly", fs::perms::owner_all, ec);
        fs::remove_all(dir_, ec);
    }

    // --- Round trips ----------------------------------------------------------------------------

    void roundTrip_data() {
        QTest::addColumn<bcd::DType>("dtype");
        QTest::newRow("F32") << DType::F32;
        QTest::newRow("BF16") << DType::BF16;
        QTest::newRow("F16") << DType::F16;
    }
    void roundTrip() {
        QFETCH(bcd::DType, dtype);
        const std::vector<float> w = {1.0f, -2.5f, 0.1f, 3.14159f, -0.0f, 1e-3f};
        const std::vector<float> bias = {100.0f, -7.25f, 0.5f, 65504.0f, 1e-6f};
        const std::vector<float> scalar = {42.0f};
        const std::vector<bcd::TensorToWrite> tensors = {
            {"model.layers.0.weight", {2, 3}, w, dtype},
            {"model.bias", {5}, bias, dtype},
            {"empty", {0, 4}, {}, dtype},
            {"scalar", {}, scalar, dtype},
        };
        const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "é ✓"}};
        const fs::path path = fresh_dir("roundtrip") / "model.safetensors";
        bcd::write_safetensors(path, tensors, metadata);

        // The header keeps the given order (metadata first) and pads the data start to 8 bytes.
        const auto file = read_all(path);
        std::uint64_t n = 0;
        std::memcpy(&n, file.data(), 8);
        QCOMPARE((8 + n) % 8, std::uint64_t{0});
        const auto header = nlohmann::ordered_json::parse(file.begin() + 8, file.begin() + 8 + n);
        std::vector<std::string> keys;
        for (const auto& item : header.items()) keys.push_back(item.key());
        QCOMPARE(keys, (std::vector<std::string>{"__metadata__", "model.layers.0.weight",
                                                 "model.bias", "empty", "scalar"}));
        const std::size_t esize = bcd::dtype_size(dtype);
        QCOMPARE(file.size(), 8 + n + (6 + 5 + 0 + 1) * esize);
        QCOMPARE(header["model.bias"]["data_offsets"][0].get<std::uint64_t>(), 6 * esize);
        QCOMPARE(header["model.bias"]["dtype"].get<std::string>(),
                 std::string(bcd::dtype_name(dtype)));

        const auto f = bcd::SafetensorsFile::open(path);
        QCOMPARE(f.label(), path.string());
        QCOMPARE(f.metadata(), metadata);
        std::vector<std::string> names;
        for (const auto& t : f.tensors()) names.push_back(t.name);
        QCOMPARE(names, (std::vector<std::string>{"empty", "model.bias", "model.layers.0.weight",
                                                  "scalar"}));
        for (const auto& src : tensors) {
            const bcd::TensorEntry* t = f.find(src.name);
            QVERIFY(t);
            QCOMPARE(t->dtype, dtype);
            QCOMPARE(t->shape, src.shape);
            QCOMPARE(t->numel(), std::uint64_t{src.data.size()});
            QCOMPARE(f.raw(*t).size(), src.data.size() * esize);
            std::vector<float> got(t->numel());
            f.read_f32(*t, got);
            std::vector<float> want;
            for (float v : src.data) want.push_back(stored(v, dtype));
            QVERIFY2(same_bits(got, want), src.name.c_str());
        }
        QCOMPARE(f.find("empty")->shape, (std::vector<std::int64_t>{0, 4}));
        QVERIFY(f.find("scalar")->shape.empty());
        QCOMPARE(f.find("scalar")->numel(), std::uint64_t{1});
    }

    void noMetadataNoKey() {
        const std::vector<float> v = {1, 2};
        const std::vector<bcd::TensorToWrite> tensors = {{"a", {2}, v, DType::F32}};
        const fs::path path = fresh_dir("nometa") / "a.safetensors";
        bcd::write_safetensors(path, tensors);
        const auto file = read_all(path);
        QVERIFY(std::string(file.begin(), file.end()).find("__metadata__") == std::string::npos);
        const auto f = bcd::SafetensorsFile::open(path);
        QVERIFY(f.metadata().empty());
        QCOMPARE(f.tensors().size(), std::size_t{1});
    }

    void noTensors() {
        const fs::path path = fresh_dir("none") / "none.safetensors";
        bcd::write_safetensors(path, {});
        const auto f = bcd::SafetensorsFile::open(path);
        QVERIFY(f.tensors().empty());
        QVERIFY(f.find("anything") == nullptr);
    }

    // More elements than one conversion chunk of the writer, so chunk boundaries are crossed.
    void largeTensors() {
        const std::size_t n = 2500003;
        std::vector<float> v(n);
        for (std::size_t i = 0; i < n; ++i)
            v[i] = static_cast<float>((i * 2654435761u) % 100003) * 0.37f - 1000.0f;
        const std::vector<bcd::TensorToWrite> tensors = {
            {"f32", {static_cast<std::int64_t>(n)}, v, DType::F32},
            {"bf16", {static_cast<std::int64_t>(n)}, v, DType::BF16},
            {"f16", {1, static_cast<std::int64_t>(n)}, v, DType::F16},
        };
        const fs::path path = fresh_dir("large") / "large.safetensors";
        bcd::write_safetensors(path, tensors);
        const auto f = bcd::SafetensorsFile::open(path);
        for (const auto& src : tensors) {
            std::vector<float> got(n), want(n);
            f.read_f32(*f.find(src.name), got);
            for (std::size_t i = 0; i < n; ++i) want[i] = stored(v[i], src.dtype);
            QVERIFY2(same_bits(got, want), src.name.c_str());
        }
    }

    void findAndRaw() {
        const std::vector<float> a = {1, 2, 3}, b = {4};
        const std::vector<bcd::TensorToWrite> tensors = {{"b", {1}, b, DType::F32},
                                                         {"a", {3}, a, DType::BF16}};
        const fs::path path = fresh_dir("find") / "f.safetensors";
        bcd::write_safetensors(path, tensors);
        const auto f = bcd::SafetensorsFile::open(path);
        QCOMPARE(f.find("a"), &f.tensors()[0]);
        QCOMPARE(f.find("b"), &f.tensors()[1]);
        QVERIFY(f.find("c") == nullptr);
        QVERIFY(f.find("") == nullptr);
        QVERIFY(f.find("a ") == nullptr);
        const auto raw = f.raw(*f.find("a"));
        QCOMPARE(raw.size(), std::size_t{6});
        std::uint16_t first = 0;
        std::memcpy(&first, raw.data(), 2);
        QCOMPARE(first, std::uint16_t{0x3F80});
        std::vector<float> wrong(2);
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, f.read_f32(*f.find("a"), wrong));
        bcd::TensorEntry foreign = *f.find("a");
        foreign.begin += 1000;
        foreign.end += 1000;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, f.raw(foreign));
    }

    // Hostile files may put the data section (and every tensor) at odd addresses.
    void unalignedData() {
        const float f32[2] = {1.5f, -3.0f};
        const std::uint16_t bf16[2] = {0x3F80, 0xC020}; // 1.0, -2.5
        const std::uint16_t f16[2] = {0x3C00, 0xC100};  // 1.0, -2.5
        const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                   R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[9,13]},)"
                                   R"("c":{"dtype":"F16","shape":[2],"data_offsets":[13,17]}} )";
        QByteArray buf(1, 'x'); // shifts the whole image by one byte in memory as well
        buf += image(header);
        buf.append(reinterpret_cast<const char*>(f32), 8);
        buf.append('\0');
        buf.append(reinterpret_cast<const char*>(bf16), 4);
        buf.append(reinterpret_cast<const char*>(f16), 4);
        const auto bytes = bytes_of(buf).subspan(1);
        const auto f = bcd::SafetensorsFile::parse(bytes, "unaligned");
        std::vector<float> got(2);
        f.read_f32(*f.find("a"), got);
        QCOMPARE(got, (std::vector<float>{1.5f, -3.0f}));
        f.read_f32(*f.find("b"), got);
        QCOMPARE(got, (std::vector<float>{1.0f, -2.5f}));
        f.read_f32(*f.find("c"), got);
        QCOMPARE(got, (std::vector<float>{1.0f, -2.5f}));
    }

    void moveTransfersMapping() {
        const std::vector<float> a = {1, 2, 3}, b = {9, 8};
        const fs::path d = fresh_dir("move");
        bcd::write_safetensors(d / "a.safetensors",
                               std::vector<bcd::TensorToWrite>{{"a", {3}, a, DType::F32}});
        bcd::write_safetensors(d / "b.safetensors",
                               std::vector<bcd::TensorToWrite>{{"b", {2}, b, DType::F16}});
        std::vector<float> got(3);
        auto first =
            std::make_unique<bcd::SafetensorsFile>(bcd::SafetensorsFile::open(d / "a.safetensors"));
        bcd::SafetensorsFile moved(std::move(*first));
        first.reset(); // the moved-from object must not unmap what `moved` now owns
        QVERIFY(moved.find("a"));
        moved.read_f32(*moved.find("a"), got);
        QCOMPARE(got, a);

        {
            auto other = bcd::SafetensorsFile::open(d / "b.safetensors");
            QVERIFY(is_mapped(d / "b.safetensors"));
            other = std::move(moved); // unmaps b, takes a's mapping
            QVERIFY(!is_mapped(d / "b.safetensors"));
            QVERIFY(other.find("b") == nullptr);
            other.read_f32(*other.find("a"), got);
            QCOMPARE(got, a);
            QCOMPARE(other.label(), (d / "a.safetensors").string());
            QVERIFY(is_mapped(d / "a.safetensors"));
        }
        QVERIFY(!is_mapped(d / "a.safetensors")); // moved-from objects own nothing

        // A file refused by parse() is unmapped again.
        const std::vector<char> good = read_all(d / "a.safetensors");
        std::ofstream(d / "cut.safetensors", std::ios::binary)
            .write(good.data(), static_cast<std::streamsize>(good.size() - 1));
        QVERIFY_THROWS_EXCEPTION(bcd::InputError,
                                 bcd::SafetensorsFile::open(d / "cut.safetensors"));
        QVERIFY(!is_mapped(d / "cut.safetensors"));
    }

    // --- Conversions ----------------------------------------------------------------------------

    void conversionKnownBits() {
        // bf16
        QCOMPARE(bcd::f32_to_bf16(1.0f), std::uint16_t{0x3F80});
        QCOMPARE(bcd::f32_to_bf16(-2.5f), std::uint16_t{0xC020});
        QCOMPARE(bcd::bf16_to_f32(0x3F80), 1.0f);
        QCOMPARE(bcd::bf16_to_f32(0xC020), -2.5f);
        QCOMPARE(bcd::f32_to_bf16(from_bits(0x3F808000)), std::uint16_t{0x3F80}); // tie -> even
        QCOMPARE(bcd::f32_to_bf16(from_bits(0x3F818000)), std::uint16_t{0x3F82}); // tie -> even
        QCOMPARE(bcd::f32_to_bf16(from_bits(0x3F808001)), std::uint16_t{0x3F81}); // above tie
        QCOMPARE(bcd::f32_to_bf16(from_bits(0x3F807FFF)), std::uint16_t{0x3F80}); // below tie
        QCOMPARE(bcd::f32_to_bf16(std::numeric_limits<float>::max()), std::uint16_t{0x7F80});
        QCOMPARE(bcd::f32_to_bf16(-std::numeric_limits<float>::infinity()), std::uint16_t{0xFF80});
        QCOMPARE(bcd::f32_to_bf16(-0.0f), std::uint16_t{0x8000});
        QCOMPARE(bcd::f32_to_bf16(from_bits(0x00000001)), std::uint16_t{0x0000}); // f32 subnormal
        QCOMPARE(bcd::f32_to_bf16(from_bits(0x7F800001)), std::uint16_t{0x7FC0}); // sNaN -> qNaN
        QCOMPARE(bcd::f32_to_bf16(from_bits(0xFFC00000)), std::uint16_t{0xFFC0});
        QVERIFY(std::isnan(bcd::bf16_to_f32(0x7FC0)));
        QVERIFY(std::isinf(bcd::bf16_to_f32(0xFF80)) && bcd::bf16_to_f32(0xFF80) < 0);

        // f16
        QCOMPARE(bcd::f32_to_f16(1.0f), std::uint16_t{0x3C00});
        QCOMPARE(bcd::f32_to_f16(-2.5f), std::uint16_t{0xC100});
        QCOMPARE(bcd::f32_to_f16(65504.0f), std::uint16_t{0x7BFF});
        QCOMPARE(bcd::f32_to_f16(65519.996f), std::uint16_t{0x7BFF});
        QCOMPARE(bcd::f32_to_f16(65520.0f), std::uint16_t{0x7C00}); // tie with odd 0x7BFF -> inf
        QCOMPARE(bcd::f32_to_f16(-1e10f), std::uint16_t{0xFC00});
        QCOMPARE(bcd::f32_to_f16(std::numeric_limits<float>::infinity()), std::uint16_t{0x7C00});
        QCOMPARE(bcd::f32_to_f16(0x1p-24f), std::uint16_t{0x0001}); // smallest subnormal
        QCOMPARE(bcd::f32_to_f16(0x1p-25f), std::uint16_t{0x0000}); // tie -> even (zero)
        QCOMPARE(bcd::f32_to_f16(std::nextafter(0x1p-25f, 1.0f)), std::uint16_t{0x0001});
        QCOMPARE(bcd::f32_to_f16(3 * 0x1p-25f), std::uint16_t{0x0002}); // tie 1|2 -> 2
        QCOMPARE(bcd::f32_to_f16(-0x1p-30f), std::uint16_t{0x8000});
        QCOMPARE(bcd::f32_to_f16(1023 * 0x1p-24f), std::uint16_t{0x03FF});     // largest subnormal
        QCOMPARE(bcd::f32_to_f16(0x1p-14f), std::uint16_t{0x0400});            // smallest normal
        QCOMPARE(bcd::f32_to_f16(0x1p-14f - 0x1p-26f), std::uint16_t{0x0400}); // rounds up to it
        QCOMPARE(bcd::f32_to_f16(1.0f + 0x1p-11f), std::uint16_t{0x3C00});     // tie -> even
        QCOMPARE(bcd::f32_to_f16(1.0f + 3 * 0x1p-11f), std::uint16_t{0x3C02}); // tie -> even
        QCOMPARE(bcd::f32_to_f16(-0.0f), std::uint16_t{0x8000});
        QCOMPARE(bcd::f32_to_f16(from_bits(0x7F800001)), std::uint16_t{0x7E00}); // sNaN -> qNaN
        QCOMPARE(bcd::f32_to_f16(from_bits(0xFFC00000)), std::uint16_t{0xFE00});
        QCOMPARE(bcd::f16_to_f32(0x0001), 0x1p-24f);
        QCOMPARE(bcd::f16_to_f32(0x03FF), 1023 * 0x1p-24f);
        QCOMPARE(bcd::f16_to_f32(0x7BFF), 65504.0f);
        QCOMPARE(bcd::f16_to_f32(0xC100), -2.5f);
        QCOMPARE(bits(bcd::f16_to_f32(0x8000)), std::uint32_t{0x80000000});
        QCOMPARE(bits(bcd::f16_to_f32(0x7C00)), std::uint32_t{0x7F800000});
        QCOMPARE(bits(bcd::f16_to_f32(0x7E00)), std::uint32_t{0x7FC00000});
    }

    // Every 16-bit pattern survives a round trip through fp32 exactly, and each midpoint between
    // neighbours rounds to the even one: this pins round-to-nearest-even without another library.
    void conversionExhaustive() {
        for (std::uint32_t v = 0; v <= 0xFFFF; ++v) {
            const auto h = static_cast<std::uint16_t>(v);
            for (const bool is_f16 : {true, false}) {
                const auto to32 = is_f16 ? bcd::f16_to_f32 : bcd::bf16_to_f32;
                const auto to16 = is_f16 ? bcd::f32_to_f16 : bcd::f32_to_bf16;
                const std::uint16_t exp_mask = is_f16 ? 0x7C00 : 0x7F80;
                const std::uint16_t quiet = is_f16 ? 0x0200 : 0x0040;
                const float f = to32(h);
                if ((h & exp_mask) == exp_mask && (h & ~exp_mask & 0x7FFF) != 0) { // NaN
                    QVERIFY(std::isnan(f));
                    QCOMPARE(to16(f), static_cast<std::uint16_t>(h | quiet));
                    continue;
                }
                if (to16(f) != h)
                    QFAIL(qPrintable(QString("%1 0x%2 does not round-trip")
                                         .arg(is_f16 ? "f16" : "bf16")
                                         .arg(v, 4, 16, QChar('0'))));
                // Midpoint to the next pattern of larger magnitude (finite neighbours only).
                const auto next = static_cast<std::uint16_t>(h + 1);
                if ((h & 0x7FFF) >= (exp_mask - 1)) continue;
                const double mid = (double(f) + double(to32(next))) / 2; // exact in fp32
                const auto even = (h & 1) ? next : h;
                if (to16(static_cast<float>(mid)) != even ||
                    to16(std::nextafter(static_cast<float>(mid), 0.0f)) != h ||
                    to16(std::nextafter(static_cast<float>(mid), static_cast<float>(mid * 2))) !=
                        next)
                    QFAIL(qPrintable(QString("%1 midpoint after 0x%2 rounds wrongly")
                                         .arg(is_f16 ? "f16" : "bf16")
                                         .arg(v, 4, 16, QChar('0'))));
            }
        }
#ifdef __FLT16_MAX__
        // The compiler's own IEEE half conversions as an independent reference.
        for (std::uint64_t b = 0; b <= 0xFFFFFFFFu; b += 997) {
            const float f = from_bits(static_cast<std::uint32_t>(b));
            if (std::isnan(f)) continue;
            const auto want = std::bit_cast<std::uint16_t>(static_cast<_Float16>(f));
            if (bcd::f32_to_f16(f) != want)
                QFAIL(qPrintable(QString("f32_to_f16(0x%1)").arg(b, 8, 16, QChar('0'))));
        }
        for (std::uint32_t v = 0; v <= 0xFFFF; ++v) {
            const float want = static_cast<float>(std::bit_cast<_Float16>(std::uint16_t(v)));
            if (!std::isnan(want)) QCOMPARE(bits(bcd::f16_to_f32(std::uint16_t(v))), bits(want));
        }
#endif
    }

    // --- Corrupt files --------------------------------------------------------------------------

    void corrupt_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QStringList>("fragments"); // each must appear in the message

        const std::string entry_ok = R"("dtype":"F32","shape":[2],"data_offsets":[0,8])";
        QTest::newRow("empty file") << QByteArray() << QStringList{"0 bytes", "too short"};
        QTest::newRow("short file") << QByteArray(5, '\0') << QStringList{"5 bytes", "too short"};
        QTest::newRow("header length past end")
            << image_with_length(1000, "{}") << QStringList{"header length", "past the end"};
        QTest::newRow("header length absurd")
            << image_with_length(std::uint64_t{1} << 40, "{}")
            << QStringList{"header length", "1099511627776 bytes is more than the 100000000"};
        QTest::newRow("header empty") << image("") << QStringList{"header", "not valid JSON"};
        QTest::newRow("header not json")
            << image(R"({"w": {"dtype": )") << QStringList{"header", "not valid JSON"};
        QTest::newRow("header invalid utf8")
            << image("{\"\xff\": 1}") << QStringList{"header", "not valid JSON"};
        QTest::newRow("header not object")
            << image("[1, 2]") << QStringList{"header", "expected a JSON object"};
        QTest::newRow("header deeply nested")
            << image(std::string(100000, '[') + std::string(100000, ']'))
            << QStringList{"header", "expected a JSON object"};
        QTest::newRow("duplicate tensor")
            << image(R"({"w": {)" + entry_ok + R"(}, "w": {)" + entry_ok + "}}", 8)
            << QStringList{"header", "'w'", "more than once"};
        QTest::newRow("entry not object")
            << image(R"({"w": 5})") << QStringList{"tensor 'w'", "expected an object"};
        QTest::newRow("empty tensor name")
            << image(R"({"": {)" + entry_ok + "}}", 8) << QStringList{"tensor ''", "empty"};
        QTest::newRow("control characters in name")
            << image(R"({"a\u0001b": 5})") << QStringList{"tensor 'a\\x01b'"};
        QTest::newRow("unknown field")
            << one_tensor(entry_ok + R"(,"extra":1)") << QStringList{"tensor 'w'", "'extra'"};
        QTest::newRow("dtype missing") << one_tensor(R"("shape":[2],"data_offsets":[0,8])")
                                       << QStringList{"tensor 'w'", "dtype is missing"};
        QTest::newRow("dtype not string")
            << one_tensor(R"("dtype":7,"shape":[2],"data_offsets":[0,8])")
            << QStringList{"tensor 'w'", "dtype must be a string", "7"};
        QTest::newRow("dtype unknown")
            << one_tensor(R"("dtype":"Q7","shape":[2],"data_offsets":[0,8])")
            << QStringList{"tensor 'w'", "unknown dtype 'Q7'", "F32, F16, BF16"};
        for (const char* d :
             {"F64", "I64", "I32", "I16", "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2"}) {
            QTest::addRow("dtype %s", d)
                << one_tensor("\"dtype\":\"" + std::string(d) +
                              "\",\"shape\":[2],\"data_offsets\":[0,8]")
                << QStringList{"tensor 'w'", QString("dtype %1 is not supported (expected F32, "
                                                     "F16 or BF16)")
                                                 .arg(d)};
        }
        QTest::newRow("shape missing") << one_tensor(R"("dtype":"F32","data_offsets":[0,8])")
                                       << QStringList{"tensor 'w'", "shape is missing"};
        QTest::newRow("shape not array")
            << one_tensor(R"("dtype":"F32","shape":2,"data_offsets":[0,8])")
            << QStringList{"tensor 'w'", "shape must be an array"};
        QTest::newRow("shape negative")
            << one_tensor(R"("dtype":"F32","shape":[2,-1],"data_offsets":[0,8])")
            << QStringList{"tensor 'w'", "shape[1]", "non-negative integer", "-1"};
        QTest::newRow("shape fractional")
            << one_tensor(R"("dtype":"F32","shape":[2.5],"data_offsets":[0,8])")
            << QStringList{"tensor 'w'", "shape[0]", "2.5"};
        QTest::newRow("shape string")
            << one_tensor(R"("dtype":"F32","shape":["2"],"data_offsets":[0,8])")
            << QStringList{"tensor 'w'", "shape[0]", "'2'"};
        QTest::newRow("shape dimension beyond int64")
            << one_tensor(R"("dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,8])")
            << QStringList{"tensor 'w'", "shape[0]", "too large"};
        QTest::newRow("shape element count overflows")
            << one_tensor(R"("dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8])")
            << QStringList{"tensor 'w'", "[4294967296, 4294967296]", "64 bits"};
        QTest::newRow("shape overflows before a zero")
            << one_tensor(R"("dtype":"F32","shape":[4294967296,4294967296,0],)"
                          R"("data_offsets":[0,0])")
            << QStringList{"tensor 'w'", "64 bits"};
        QTest::newRow("shape byte count overflows")
            << one_tensor(R"("dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,8])")
            << QStringList{"tensor 'w'", "× F32 overflows"};
        QTest::newRow("offsets missing") << one_tensor(R"("dtype":"F32","shape":[2])")
                                         << QStringList{"tensor 'w'", "data_offsets is missing"};
        QTest::newRow("offsets one element")
            << one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[8])")
            << QStringList{"tensor 'w'", "data_offsets must be an array [begin, end]"};
        QTest::newRow("offsets not array")
            << one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":"0-8")")
            << QStringList{"tensor 'w'", "data_offsets must be an array"};
        QTest::newRow("offsets negative")
            << one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[-8,0])")
            << QStringList{"tensor 'w'", "data_offsets", "non-negative", "-8"};
        QTest::newRow("offsets fractional")
            << one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[0,8.0])")
            << QStringList{"tensor 'w'", "data_offsets", "non-negative"};
        QTest::newRow("offsets reversed")
            << one_tensor(R"("dtype":"F32","shape":[0],"data_offsets":[8,0])")
            << QStringList{"tensor 'w'", "data_offsets [8, 0] end before they begin"};
        QTest::newRow("offsets past end")
            << one_tensor(R"("dtype":"F32","shape":[2],"data_offsets":[12,20])", 16)
            << QStringList{"tensor 'w'", "[12, 20]", "past the end of the data section (16 bytes)"};
        QTest::newRow("offsets huge")
            << one_tensor(R"("dtype":"F32","shape":[2],)"
                          R"("data_offsets":[18446744073709551615,18446744073709551615])")
            << QStringList{"tensor 'w'", "past the end"};
        QTest::newRow("offsets do not match shape")
            << image(R"({"model.norm.weight":{"dtype":"F32","shape":[64],"data_offsets":[0,100]}})",
                     256)
            << QStringList{"tensor 'model.norm.weight': data_offsets [0, 100] do not match shape "
                           "[64] × F32 (256 bytes)"};
        QTest::newRow("offsets overlap")
            << image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                     R"("b":{"dtype":"BF16","shape":[4],"data_offsets":[4,12]}})",
                     16)
            << QStringList{"tensor 'b'", "[4, 12]", "overlap", "tensor 'a' [0, 8]"};
        QTest::newRow("offsets nested overlap")
            << image(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                     R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},)"
                     R"("c":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})",
                     16)
            << QStringList{"tensor 'b'", "overlap", "tensor 'a'"};
        QTest::newRow("metadata not object")
            << image(R"({"__metadata__": ["a"]})") << QStringList{"__metadata__", "an object"};
        QTest::newRow("metadata value not string")
            << image(R"({"__metadata__": {"format": "pt", "step": 5}})")
            << QStringList{"__metadata__.'step'", "expected a string, got 5"};
    }
    void corrupt() {
        QFETCH(QByteArray, bytes);
        QFETCH(QStringList, fragments);
        const std::string msg =
            input_error_of([&] { (void)bcd::SafetensorsFile::parse(bytes_of(bytes), kLabel); });
        QVERIFY2(msg.starts_with(kLabel + ": "), msg.c_str());
        for (const QString& fragment : fragments)
            QVERIFY2(
                msg.find(fragment.toStdString()) != std::string::npos,
                qPrintable(QString("'%1' not in: %2").arg(fragment, QString::fromStdString(msg))));
    }

    // Valid edge cases the checks above must not refuse.
    void acceptedEdgeCases() {
        // Zero-length tensors may share an offset with anything; gaps and trailing bytes are
        // harmless; "-0" is zero; trailing spaces pad the header.
        const std::string header = R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                                   R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                   R"("c":{"dtype":"BF16","shape":[1,0,3],"data_offsets":[2,2]},)"
                                   R"("d":{"dtype":"F16","shape":[-0],"data_offsets":[0,0]},)"
                                   R"("e":{"dtype":"F16","shape":[2],"data_offsets":[8,12]},)"
                                   R"("__metadata__":{}}   )";
        const QByteArray bytes = image(header, 20);
        const auto f = bcd::SafetensorsFile::parse(bytes_of(bytes), "edge");
        QCOMPARE(f.tensors().size(), std::size_t{5});
        QCOMPARE(f.find("c")->numel(), std::uint64_t{0});
        QCOMPARE(f.find("d")->shape, (std::vector<std::int64_t>{0}));
        std::vector<float> none;
        f.read_f32(*f.find("c"), none);
    }

    void openErrors() {
        const fs::path d = fresh_dir("open");
        auto expect = [](const fs::path& p, const std::string& fragment) {
            const std::string msg = input_error_of([&] { (void)bcd::SafetensorsFile::open(p); });
            return msg.starts_with(p.string() + ": ") && msg.find(fragment) != std::string::npos
                       ? std::string()
                       : msg;
        };
        QCOMPARE(expect(d / "missing.safetensors", "cannot open"), std::string());
        std::ofstream(d / "empty.safetensors").close();
        QCOMPARE(expect(d / "empty.safetensors", "0 bytes"), std::string());
        std::ofstream(d / "short.safetensors") << "abc";
        QCOMPARE(expect(d / "short.safetensors", "3 bytes"), std::string());
        {
            const QByteArray b = image_with_length(64, "{}");
            std::ofstream(d / "cut.safetensors", std::ios::binary).write(b.constData(), b.size());
        }
        QCOMPARE(expect(d / "cut.safetensors", "header length"), std::string());
        fs::create_directory(d / "dir.safetensors");
        QCOMPARE(expect(d / "dir.safetensors", "directory"), std::string());
    }

    // --- Writer failures ------------------------------------------------------------------------

    void writerMissingFolder() {
        const fs::path d = fresh_dir("missing");
        const fs::path target = d / "no" / "such" / "model.safetensors";
        const std::vector<float> v = {1};
        const std::vector<bcd::TensorToWrite> tensors = {{"a", {1}, v, DType::F32}};
        try {
            bcd::write_safetensors(target, tensors);
            QFAIL("no exception");
        } catch (const bcd::InternalError& e) {
            const std::string msg = e.what();
            QVERIFY2(msg.find(target.string()) != std::string::npos, e.what());
            QVERIFY2(msg.find("No such file or directory") != std::string::npos, e.what());
        }
        QVERIFY(entries_of(d).empty());
    }

    void writerReadOnlyFolder() {
        if (::geteuid() == 0) QSKIP("running as root: folder permissions are not enforced");
        const fs::path d = fresh_dir("readonly");
        fs::permissions(d, fs::perms::owner_read | fs::perms::owner_exec);
        const std::vector<float> v = {1};
        const std::vector<bcd::TensorToWrite> tensors = {{"a", {1}, v, DType::F32}};
        QVERIFY_THROWS_EXCEPTION(bcd::InternalError,
                                 bcd::write_safetensors(d / "m.safetensors", tensors));
        fs::permissions(d, fs::perms::owner_all);
        QVERIFY(entries_of(d).empty());
    }

    void writerReplacesExisting() {
        const fs::path d = fresh_dir("replace");
        const fs::path target = d / "model.safetensors";
        const std::vector<float> a = {1, 2}, b = {3, 4, 5};
        bcd::write_safetensors(target, std::vector<bcd::TensorToWrite>{{"a", {2}, a, DType::F32}});
        bcd::write_safetensors(target, std::vector<bcd::TensorToWrite>{{"b", {3}, b, DType::BF16}});
        QCOMPARE(entries_of(d), std::vector<std::string>{"model.safetensors"});
        const auto f = bcd::SafetensorsFile::open(target);
        QCOMPARE(f.tensors().size(), std::size_t{1});
        QVERIFY(f.find("b"));
        std::vector<float> got(3);
        f.read_f32(*f.find("b"), got);
        QCOMPARE(got, b);
    }

    // A write that fails half-way (the file size limit stands in for a full disk) leaves the old
    // file byte for byte and no temporary file behind.
    void writerFailureKeepsOldFile() {
        const fs::path d = fresh_dir("midway");
        const fs::path target = d / "model.safetensors";
        const std::vector<float> small = {1, 2, 3};
        bcd::write_safetensors(target,
                               std::vector<bcd::TensorToWrite>{{"old", {3}, small, DType::F32}});
        const auto before = read_all(target);

        const std::vector<float> big(1 << 20, 0.5f); // 4 MB, past the limit below
        rlimit saved{};
        QCOMPARE(::getrlimit(RLIMIT_FSIZE, &saved), 0);
        rlimit limited = saved;
        limited.rlim_cur = 64 * 1024;
        const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
        QCOMPARE(::setrlimit(RLIMIT_FSIZE, &limited), 0);
        std::string msg;
        try {
            bcd::write_safetensors(target,
                                   std::vector<bcd::TensorToWrite>{{"new", {1 << 20}, big}});
        } catch (const bcd::InternalError& e) {
            msg = e.what();
        }
        ::setrlimit(RLIMIT_FSIZE, &saved);
        std::signal(SIGXFSZ, old_handler);

        QVERIFY2(msg.find(target.string()) != std::string::npos, msg.c_str());
        QVERIFY2(msg.find("File too large") != std::string::npos, msg.c_str());
        QCOMPARE(entries_of(d), std::vector<std::string>{"model.safetensors"});
        QVERIFY(read_all(target) == before);
    }

    void writerProgrammingErrors() {
        const fs::path d = fresh_dir("misuse");
        const std::vector<float> v = {1, 2, 3};
        using List = std::vector<bcd::TensorToWrite>;
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 bcd::write_safetensors(d / "x", List{{"a", {2}, v}}));
        QVERIFY_THROWS_EXCEPTION(
            std::invalid_argument,
            bcd::write_safetensors(d / "x", List{{"a", {3}, v}, {"a", {3}, v}}));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 bcd::write_safetensors(d / "x", List{{"a", {-1, -3}, v}}));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 bcd::write_safetensors(d / "x", List{{"__metadata__", {3}, v}}));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 bcd::write_safetensors(d / "x", List{{"", {3}, v}}));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 bcd::write_safetensors(d / "x", List{{"bad\xff", {3}, v}}));
        QVERIFY(entries_of(d).empty());
    }
};

QTEST_APPLESS_MAIN(TestSafetensors)
#include "tst_safetensors.moc"
