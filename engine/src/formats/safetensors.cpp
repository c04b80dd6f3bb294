#include "bcd/safetensors.h"

#include "bcd/atomic_file.h"
#include "bcd/errors.h"
#include "bcd/mapped_file.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <utility>

namespace bcd {

// The file format is little-endian; the reader copies and the writer emits host-order bytes.
static_assert(std::endian::native == std::endian::little,
              "safetensors I/O assumes a little-endian host");

namespace {

using nlohmann::json;

// The reference implementation refuses headers above 100 MB; a longer "length" means a file
// that is not safetensors at all, and parsing it would only waste memory.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;
constexpr std::string_view kMetadataKey = "__metadata__";
// Elements converted per chunk by the writer: bounds its extra memory to 2 MB per 16-bit tensor.
constexpr std::size_t kWriteChunk = std::size_t{1} << 20;

// Quotes a name from the file for an error message: hostile files may hold control characters
// or megabyte-long names, neither of which belongs on a terminal line.
std::string quote_name(std::string_view s) {
    constexpr std::size_t kMax = 120;
    bool cut = false;
    if (s.size() > kMax) {
        std::size_t n = kMax;
        while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n; // UTF-8 boundary
        s = s.substr(0, n);
        cut = true;
    }
    std::string out = "'";
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", u);
            out += buf;
        } else {
            out += c;
        }
    }
    out += cut ? "...'" : "'";
    return out;
}

// A short description of a JSON value; never renders a whole (possibly huge or deep) container.
std::string brief(const json& v) {
    switch (v.type()) {
    case json::value_t::object:
        return "an object";
    case json::value_t::array:
        return "an array";
    case json::value_t::string:
        return "the string " + quote_name(v.get_ref<const std::string&>());
    case json::value_t::null:
        return "null";
    default:
        return v.dump(); // booleans and numbers
    }
}

template <class Ints> std::string bracketed(const Ints& values) {
    constexpr std::size_t kMaxShown = 8;
    std::string s = "[";
    std::size_t i = 0;
    for (const auto& v : values) {
        if (i > 0) s += ", ";
        if (i == kMaxShown) {
            s += "...";
            break;
        }
        s += std::to_string(v);
        ++i;
    }
    return s + "]";
}

std::optional<DType> supported_dtype(std::string_view s) {
    if (s == "F32") return DType::F32;
    if (s == "F16") return DType::F16;
    if (s == "BF16") return DType::BF16;
    return std::nullopt;
}

bool is_known_safetensors_dtype(std::string_view s) {
    static constexpr std::string_view kKnown[] = {
        "F64",  "I64",     "U64",     "I32",     "U32",     "I16",     "U16", "I8",  "U8",
        "BOOL", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",  "C64", "C128"};
    return std::find(std::begin(kKnown), std::end(kKnown), s) != std::end(kKnown);
}

// A JSON number that is a non-negative integer (nlohmann stores those as unsigned, but "-0"
// arrives as a signed zero).
std::optional<std::uint64_t> as_unsigned(const json& v) {
    if (v.is_number_unsigned()) return v.get<std::uint64_t>();
    if (v.is_number_integer() && v.get<std::int64_t>() >= 0)
        return static_cast<std::uint64_t>(v.get<std::int64_t>());
    return std::nullopt;
}

// Parses the header text, refusing duplicate keys: readers that keep the first and readers that
// keep the last occurrence would otherwise see different tensors in the same file.
json parse_header_json(std::string_view text, const std::string& label) {
    std::vector<std::set<std::string>> keys_per_object;
    std::string duplicate;
    auto on_event = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
        switch (event) {
        case json::parse_event_t::object_start:
            keys_per_object.emplace_back();
            break;
        case json::parse_event_t::object_end:
            keys_per_object.pop_back();
            break;
        case json::parse_event_t::key:
            if (!keys_per_object.back().insert(parsed.get<std::string>()).second &&
                duplicate.empty())
                duplicate = parsed.get<std::string>();
            break;
        default:
            break;
        }
        return true;
    };
    json j;
    try {
        j = json::parse(text.begin(), text.end(), on_event);
    } catch (const json::exception& e) {
        std::string what = e.what();
        if (auto p = what.find("] "); what.starts_with("[json.exception") && p != std::string::npos)
            what.erase(0, p + 2);
        throw InputError(label, "header", "not valid JSON (" + what + ")");
    }
    if (!duplicate.empty())
        throw InputError(label, "header",
                         "key " + quote_name(duplicate) + " appears more than once");
    return j;
}

// Validates one header entry against the data section; throws InputError naming the tensor.
TensorEntry parse_entry(const std::string& label, const std::string& name, const json& v,
                        std::uint64_t data_size) {
    const std::string key = "tensor " + quote_name(name);
    auto fail = [&](const std::string& expected) { throw InputError(label, key, expected); };

    if (name.empty()) fail("a tensor name must not be empty");
    if (!v.is_object())
        fail("expected an object with dtype, shape and data_offsets, got " + brief(v));
    for (const auto& item : v.items()) {
        if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets")
            fail("unknown field " + quote_name(item.key()) +
                 " (expected only dtype, shape and data_offsets)");
    }

    TensorEntry t;
    t.name = name;

    const auto dtype = v.find("dtype");
    if (dtype == v.end()) fail("dtype is missing");
    if (!dtype->is_string()) fail("dtype must be a string, got " + brief(*dtype));
    const auto& dtype_text = dtype->get_ref<const std::string&>();
    const auto parsed_dtype = supported_dtype(dtype_text);
    if (!parsed_dtype) {
        if (is_known_safetensors_dtype(dtype_text))
            fail("dtype " + dtype_text + " is not supported (expected F32, F16 or BF16)");
        fail("unknown dtype " + quote_name(dtype_text) + " (supported: F32, F16, BF16)");
    }
    t.dtype = *parsed_dtype;

    const auto shape = v.find("shape");
    if (shape == v.end()) fail("shape is missing");
    if (!shape->is_array()) fail("shape must be an array of integers, got " + brief(*shape));
    t.shape.reserve(shape->size());
    std::uint64_t numel = 1;
    for (std::size_t i = 0; i < shape->size(); ++i) {
        const auto dim = as_unsigned((*shape)[i]);
        if (!dim)
            fail("shape[" + std::to_string(i) + "] must be a non-negative integer, got " +
                 brief((*shape)[i]));
        if (*dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            fail("shape[" + std::to_string(i) + "] = " + std::to_string(*dim) + " is too large");
        t.shape.push_back(static_cast<std::int64_t>(*dim));
        // Checked in order, as the reference implementation does, so that no later product of
        // leading dimensions (which model code computes in int64) can overflow either.
        if (__builtin_mul_overflow(numel, *dim, &numel))
            fail("shape " + bracketed(t.shape) + " has more elements than 64 bits can count");
    }
    std::uint64_t nbytes = 0;
    if (__builtin_mul_overflow(numel, dtype_size(t.dtype), &nbytes))
        fail("shape " + bracketed(t.shape) + " × " + dtype_text + " overflows a 64-bit size");

    const auto offsets = v.find("data_offsets");
    if (offsets == v.end()) fail("data_offsets is missing");
    if (!offsets->is_array() || offsets->size() != 2)
        fail("data_offsets must be an array [begin, end] of two integers, got " + brief(*offsets));
    const auto begin = as_unsigned((*offsets)[0]);
    const auto end = as_unsigned((*offsets)[1]);
    if (!begin || !end)
        fail("data_offsets must hold two non-negative integers, got " + brief((*offsets)[0]) +
             " and " + brief((*offsets)[1]));
    const std::string shown = bracketed(std::vector{*begin, *end});
    if (*begin > *end) fail("data_offsets " + shown + " end before they begin");
    if (*end > data_size)
        fail("data_offsets " + shown + " run past the end of the data section (" +
             std::to_string(data_size) + " bytes)");
    if (*end - *begin != nbytes)
        fail("data_offsets " + shown + " do not match shape " + bracketed(t.shape) + " × " +
             dtype_text + " (" + std::to_string(nbytes) + " bytes)");
    t.begin = *begin;
    t.end = *end;
    return t;
}

// Two tensors sharing bytes would alias each other's weights; refuse it.
void check_no_overlap(const std::string& label, const std::vector<TensorEntry>& tensors) {
    std::vector<const TensorEntry*> by_offset;
    for (const auto& t : tensors)
        if (t.begin != t.end) by_offset.push_back(&t); // empty ranges share no byte
    std::sort(by_offset.begin(), by_offset.end(),
              [](const TensorEntry* a, const TensorEntry* b) { return a->begin < b->begin; });
    // Sorted by begin, a range overlaps an earlier one exactly when it overlaps its predecessor.
    for (std::size_t i = 1; i < by_offset.size(); ++i) {
        const TensorEntry& prev = *by_offset[i - 1];
        const TensorEntry& t = *by_offset[i];
        if (t.begin < prev.end)
            throw InputError(label, "tensor " + quote_name(t.name),
                             "data_offsets " + bracketed(std::vector{t.begin, t.end}) +
                                 " overlap those of tensor " + quote_name(prev.name) + " " +
                                 bracketed(std::vector{prev.begin, prev.end}));
    }
}

std::map<std::string, std::string> parse_metadata(const std::string& label, const json& v) {
    const std::string key(kMetadataKey);
    if (!v.is_object())
        throw InputError(label, key, "expected an object of strings, got " + brief(v));
    std::map<std::string, std::string> out;
    for (const auto& item : v.items()) {
        if (!item.value().is_string())
            throw InputError(label, key + "." + quote_name(item.key()),
                             "expected a string, got " + brief(item.value()));
        out.emplace(item.key(), item.value().get<std::string>());
    }
    return out;
}

template <float (*Convert)(std::uint16_t)>
void convert_16bit(const std::byte* src, std::span<float> dst) {
    for (std::size_t i = 0; i < dst.size(); ++i) {
        std::uint16_t v;
        std::memcpy(&v, src + 2 * i, sizeof v); // the data section may be unaligned
        dst[i] = Convert(v);
    }
}

} // namespace

std::string_view dtype_name(DType d) {
    switch (d) {
    case DType::F32:
        return "F32";
    case DType::F16:
        return "F16";
    case DType::BF16:
        return "BF16";
    }
    return "?";
}

std::size_t dtype_size(DType d) {
    return d == DType::F32 ? 4 : 2;
}

std::uint64_t TensorEntry::numel() const {
    std::uint64_t n = 1;
    for (std::int64_t d : shape) n *= static_cast<std::uint64_t>(d);
    return n;
}

// --- Reader --------------------------------------------------------------------------------------

SafetensorsFile SafetensorsFile::parse(std::span<const std::byte> bytes, std::string label) {
    if (bytes.size() < 8)
        throw InputError(label, "",
                         "file is " + std::to_string(bytes.size()) +
                             " bytes long, too short for a safetensors file (expected an 8-byte "
                             "header length followed by a JSON header)");
    std::uint64_t header_len = 0;
    std::memcpy(&header_len, bytes.data(), sizeof header_len);
    if (header_len > kMaxHeaderBytes)
        throw InputError(label, "header length",
                         std::to_string(header_len) + " bytes is more than the " +
                             std::to_string(kMaxHeaderBytes) +
                             " allowed (is this a safetensors file?)");
    if (header_len > bytes.size() - 8)
        throw InputError(label, "header length",
                         std::to_string(header_len) + " bytes run past the end of the file (" +
                             std::to_string(bytes.size()) + " bytes)");

    const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), header_len);
    const json header = parse_header_json(text, label);
    if (!header.is_object())
        throw InputError(label, "header", "expected a JSON object, got " + brief(header));

    SafetensorsFile f;
    f.label_ = std::move(label);
    f.data_ = bytes.subspan(8 + header_len);
    f.tensors_.reserve(header.size());
    for (const auto& item : header.items()) {
        if (item.key() == kMetadataKey)
            f.metadata_ = parse_metadata(f.label_, item.value());
        else
            f.tensors_.push_back(parse_entry(f.label_, item.key(), item.value(), f.data_.size()));
    }
    check_no_overlap(f.label_, f.tensors_);
    std::sort(f.tensors_.begin(), f.tensors_.end(),
              [](const TensorEntry& a, const TensorEntry& b) { return a.name < b.name; });
    return f;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
    MappedFile map = MappedFile::open(path, "a safetensors file");
    SafetensorsFile f = parse(map.bytes(), path.string()); // an empty file is "too short"
    f.map_ = std::move(map); // data_ points into the mapping, which a move keeps in place
    return f;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& o) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& o) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

const TensorEntry* SafetensorsFile::find(std::string_view name) const {
    const auto it = std::lower_bound(
        tensors_.begin(), tensors_.end(), name,
        [](const TensorEntry& t, std::string_view n) { return std::string_view(t.name) < n; });
    return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

std::span<const std::byte> SafetensorsFile::raw(const TensorEntry& t) const {
    // An entry from another file, or edited by the caller, must not reach outside the mapping.
    if (t.begin > t.end || t.end > data_.size() ||
        t.end - t.begin != t.numel() * dtype_size(t.dtype))
        throw std::invalid_argument("SafetensorsFile::raw: tensor '" + t.name +
                                    "' does not belong to " + label_);
    return data_.subspan(t.begin, t.end - t.begin);
}

void SafetensorsFile::read_f32(const TensorEntry& t, std::span<float> dst) const {
    const auto src = raw(t);
    if (dst.size() != t.numel())
        throw std::invalid_argument("SafetensorsFile::read_f32: tensor '" + t.name + "' has " +
                                    std::to_string(t.numel()) + " elements, destination holds " +
                                    std::to_string(dst.size()));
    if (dst.empty()) return;
    switch (t.dtype) {
    case DType::F32:
        std::memcpy(dst.data(), src.data(), src.size());
        break;
    case DType::F16:
        convert_16bit<f16_to_f32>(src.data(), dst);
        break;
    case DType::BF16:
        convert_16bit<bf16_to_f32>(src.data(), dst);
        break;
    }
}

// --- Writer --------------------------------------------------------------------------------------

namespace {

std::uint64_t checked_numel(const TensorToWrite& t) {
    std::uint64_t n = 1;
    for (std::int64_t d : t.shape) {
        if (d < 0)
            throw std::invalid_argument("write_safetensors: tensor '" + t.name +
                                        "' has a negative dimension");
        if (__builtin_mul_overflow(n, static_cast<std::uint64_t>(d), &n))
            throw std::invalid_argument("write_safetensors: tensor '" + t.name +
                                        "' has too many elements");
    }
    return n;
}

} // namespace

void write_safetensors(const std::filesystem::path& path, std::span<const TensorToWrite> tensors,
                       const std::map<std::string, std::string>& metadata) {
    // Caller mistakes are programming errors, not I/O failures: std::invalid_argument.
    std::set<std::string_view> names;
    for (const auto& t : tensors) {
        if (t.name.empty() || t.name == kMetadataKey)
            throw std::invalid_argument("write_safetensors: invalid tensor name '" + t.name + "'");
        if (!names.insert(t.name).second)
            throw std::invalid_argument("write_safetensors: tensor '" + t.name +
                                        "' is given twice");
        if (checked_numel(t) != t.data.size())
            throw std::invalid_argument("write_safetensors: tensor '" + t.name + "' has shape " +
                                        bracketed(t.shape) + " but " +
                                        std::to_string(t.data.size()) + " values");
    }

    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) {
        auto& m = header[std::string(kMetadataKey)] = nlohmann::ordered_json::object();
        for (const auto& [k, v] : metadata) m[k] = v;
    }
    std::uint64_t offset = 0;
    for (const auto& t : tensors) {
        const std::uint64_t nbytes = t.data.size() * dtype_size(t.dtype);
        header[t.name] = {{"dtype", std::string(dtype_name(t.dtype))},
                          {"shape", t.shape},
                          {"data_offsets", {offset, offset + nbytes}}};
        offset += nbytes;
    }
    std::string text;
    try {
        text = header.dump();
    } catch (const nlohmann::json::exception&) {
        throw std::invalid_argument(
            "write_safetensors: a tensor name or metadata string is not valid UTF-8");
    }
    text.append((8 - text.size() % 8) % 8, ' '); // 8 + size is then a multiple of 8
    const std::uint64_t header_len = text.size();

    AtomicFileWriter out(path);
    out.write(&header_len, sizeof header_len);
    out.write(text.data(), text.size());
    std::vector<std::uint16_t> chunk;
    for (const auto& t : tensors) {
        if (t.dtype == DType::F32) {
            out.write(t.data.data(), t.data.size_bytes());
            continue;
        }
        const auto convert = t.dtype == DType::BF16 ? f32_to_bf16 : f32_to_f16;
        for (std::size_t i = 0; i < t.data.size(); i += kWriteChunk) {
            const std::size_t n = std::min(kWriteChunk, t.data.size() - i);
            chunk.resize(n);
            for (std::size_t k = 0; k < n; ++k) chunk[k] = convert(t.data[i + k]);
            out.write(chunk.data(), n * sizeof(std::uint16_t));
        }
    }
    out.commit();
}

// --- Conversions ---------------------------------------------------------------------------------

float bf16_to_f32(std::uint16_t v) {
    return std::bit_cast<float>(std::uint32_t{v} << 16);
}

float f16_to_f32(std::uint16_t v) {
    const std::uint32_t sign = std::uint32_t{v & 0x8000u} << 16;
    const std::uint32_t exponent = (v >> 10) & 0x1Fu;
    const std::uint32_t mantissa = v & 0x3FFu;
    if (exponent == 0x1F) // inf and NaN keep their payload
        return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
    if (exponent == 0) { // zero and subnormals: mantissa × 2^-24, exact in fp32
        const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
        return sign ? -magnitude : magnitude;
    }
    return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

std::uint16_t f32_to_bf16(float f) {
    std::uint32_t b = std::bit_cast<std::uint32_t>(f);
    if ((b & 0x7FFFFFFFu) > 0x7F800000u) // NaN: truncating could make it inf, so force quiet
        return static_cast<std::uint16_t>((b >> 16) | 0x0040u);
    b += 0x7FFFu + ((b >> 16) & 1u); // round to nearest, ties to even
    return static_cast<std::uint16_t>(b >> 16);
}

std::uint16_t f32_to_f16(float f) {
    const std::uint32_t b = std::bit_cast<std::uint32_t>(f);
    const auto sign = static_cast<std::uint16_t>((b >> 16) & 0x8000u);
    const std::uint32_t a = b & 0x7FFFFFFFu;
    if (a > 0x7F800000u) // NaN: keep the top payload bits, set the quiet bit
        return static_cast<std::uint16_t>(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
    if (a >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u); // >= 65520: inf
    if (a >= 0x38800000u) { // normal range, >= 2^-14
        std::uint32_t h = (a >> 13) - (112u << 10);
        const std::uint32_t rest = a & 0x1FFFu;
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
        return static_cast<std::uint16_t>(sign | h);
    }
    if (a <= 0x33000000u) return sign; // <= 2^-25: the tie at 2^-25 goes to even, zero
    // Subnormal result: the value in units of 2^-24, rounded to nearest even.
    const std::uint32_t shift = 126u - (a >> 23); // 14..24
    const std::uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
    std::uint32_t h = m >> shift;
    const std::uint32_t rest = m & ((1u << shift) - 1u);
    const std::uint32_t half = 1u << (shift - 1u);
    if (rest > half || (rest == half && (h & 1u))) ++h;
    return static_cast<std::uint16_t>(sign | h);
}

} // namespace bcd
