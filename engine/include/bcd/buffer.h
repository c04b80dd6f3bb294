#pragma once
// A 64-byte aligned, zero-initialised float allocation: the unit of memory of the engine
// (one for all parameters, one for all activations, one per optimizer state, ...).

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>

namespace bcd {

class FloatBuffer {
public:
    FloatBuffer() = default;
    explicit FloatBuffer(std::size_t n) { resize(n); }

    // Replaces the contents with n zeros (the old contents are released first, so that the peak
    // is never old + new).
    void resize(std::size_t n) {
        data_.reset();
        size_ = 0;
        if (n == 0) return;
        const std::size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
        auto* p = static_cast<float*>(std::aligned_alloc(64, bytes));
        if (!p) throw std::bad_alloc();
        std::memset(p, 0, bytes);
        data_.reset(p);
        size_ = n;
    }
    void release() { resize(0); }
    void zero() {
        if (size_) std::memset(data_.get(), 0, size_ * sizeof(float));
    }

    float* data() { return data_.get(); }
    const float* data() const { return data_.get(); }
    std::size_t size() const { return size_; }
    std::size_t bytes() const { return size_ * sizeof(float); }
    bool empty() const { return size_ == 0; }
    std::span<float> span() { return {data_.get(), size_}; }
    std::span<const float> span() const { return {data_.get(), size_}; }

private:
    struct Free {
        void operator()(float* p) const { std::free(p); }
    };
    std::unique_ptr<float, Free> data_;
    std::size_t size_ = 0;
};

} // namespace bcd
