#pragma once
// A 64-byte aligned, zero-initialised float allocation: the unit of memory of the engine
// (one for all parameters, one for all activations, one per optimizer state, ...).
//
// Large buffers are anonymous memory maps: the kernel hands out zeroed pages on first touch, so
// making a buffer costs no memset, and releasing it returns the memory to the system at once
// (a block switch releases the old block's state before making the new one's).

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <sys/mman.h>
#include <utility>

namespace bcd {

class FloatBuffer {
public:
    FloatBuffer() = default;
    explicit FloatBuffer(std::size_t n) { resize(n); }
    FloatBuffer(FloatBuffer&& o) noexcept { swap(o); }
    FloatBuffer& operator=(FloatBuffer&& o) noexcept {
        if (this != &o) {
            release();
            swap(o);
        }
        return *this;
    }
    FloatBuffer(const FloatBuffer&) = delete;
    FloatBuffer& operator=(const FloatBuffer&) = delete;
    ~FloatBuffer() { release(); }

    // Replaces the contents with n zeros (the old contents are released first, so that the peak
    // is never old + new).
    void resize(std::size_t n) {
        release();
        if (n == 0) return;
        const std::size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
        void* p = nullptr;
        if (bytes >= kMapThreshold) {
            p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) throw std::bad_alloc();
            mapped_ = true;
        } else {
            p = std::aligned_alloc(64, bytes);
            if (!p) throw std::bad_alloc();
            std::memset(p, 0, bytes);
            mapped_ = false;
        }
        data_ = static_cast<float*>(p);
        size_ = n;
        bytes_ = bytes;
    }
    void release() noexcept {
        if (data_) {
            if (mapped_)
                ::munmap(data_, bytes_);
            else
                std::free(data_);
        }
        data_ = nullptr;
        size_ = bytes_ = 0;
    }
    void zero() {
        if (size_) std::memset(data_, 0, size_ * sizeof(float));
    }

    float* data() { return data_; }
    const float* data() const { return data_; }
    std::size_t size() const { return size_; }
    std::size_t bytes() const { return size_ * sizeof(float); }
    bool empty() const { return size_ == 0; }
    std::span<float> span() { return {data_, size_}; }
    std::span<const float> span() const { return {data_, size_}; }

private:
    static constexpr std::size_t kMapThreshold = std::size_t{1} << 20;
    void swap(FloatBuffer& o) noexcept {
        std::swap(data_, o.data_);
        std::swap(size_, o.size_);
        std::swap(bytes_, o.bytes_);
        std::swap(mapped_, o.mapped_);
    }
    float* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t bytes_ = 0;
    bool mapped_ = false;
};

} // namespace bcd
