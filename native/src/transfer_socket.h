// TransferSocket: the UDP socket of one TFTP read transfer (the server's TID, RFC 1350 §4): IPv4, bound to
// <address>:0, talking to one fixed peer (the client's TID). DATA blocks leave in batches through sendmmsg(2) (an
// RFC 7440 window is one syscall), each datagram gathered from a 4-byte header and a view of the file's bytes, so
// neither JS nor C++ copies the payload. Datagrams from other ports are reported too (the server answers ERROR 5).
#pragma once

#include <napi.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <optional>

#include "poller.h"

namespace dls {

class TransferSocket : public Napi::ObjectWrap<TransferSocket> {
 public:
  static Napi::Function Init(Napi::Env env);

  /**
   * new TransferSocket({ address, peerAddress, peerPort, receiveBuffer }, onMessage(length, fromPeer, address?, port?),
   * onError(err)) — opens, binds to address:0 and starts reading. Each datagram is read into `receiveBuffer` (owned
   * by JS, valid until the next callback) and reported by its length: a length above the buffer's means truncated.
   */
  explicit TransferSocket(const Napi::CallbackInfo& info);
  ~TransferSocket() override;

 private:
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value SendTo(const Napi::CallbackInfo& info);
  Napi::Value SetSource(const Napi::CallbackInfo& info);
  Napi::Value SendBlocks(const Napi::CallbackInfo& info);
  Napi::Value ArmReply(const Napi::CallbackInfo& info);
  Napi::Value SetChain(const Napi::CallbackInfo& info);
  Napi::Value TakeChained(const Napi::CallbackInfo& info);
  /** Sends blocks first .. first+count-1 of the source; returns the datagrams sent, or -errno (not EAGAIN). */
  int64_t SendBlocksFromSource(int64_t first, int64_t count);
  // Sends by GSO; sets *refused when the kernel refused GSO (the blocks from first + the result are still to send).
  int64_t SendBlocksGso(int64_t first, int64_t count, bool* refused);
  int64_t SendBlocksMmsg(int64_t first, int64_t count);
  static std::atomic<bool> gso_usable_;
  bool gso_ok_ = true;  // false once this socket's route refused a GSO send (EINVAL)
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Address(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  static Napi::Value SetGso(const Napi::CallbackInfo& info);
  static Napi::Value LoopSpinStats(const Napi::CallbackInfo& info);
  static Napi::Value SetRing(const Napi::CallbackInfo& info);
  static Napi::Value RingStats(const Napi::CallbackInfo& info);

  static void OnReadable(void* owner, int status);
  class JsScope;
  void Drain(JsScope& js);
  bool Report(const Napi::Object& self, const Napi::FunctionReference& fn, const std::initializer_list<napi_value>& args);
  void DoClose();

  Poller poller_;
  bool self_ref_ = false;
  sockaddr_in peer_{};
  // Datagrams are delivered inside one callback scope per readable event (microtasks run once it closes).
  Napi::AsyncContext async_context_;
  Napi::ObjectReference receive_ref_;
  unsigned char* receive_data_ = nullptr;
  size_t receive_length_ = 0;
  // What sendBlocks sends from (setSource): the DATA header table, the file's bytes, the block size.
  Napi::ObjectReference headers_ref_;
  Napi::ObjectReference data_ref_;
  const unsigned char* headers_ = nullptr;
  const unsigned char* data_ = nullptr;
  int64_t data_length_ = 0;
  int64_t blksize_ = 0;
  // armReply: when exactly this 4-byte datagram arrives from the peer, send these blocks before calling JS.
  bool armed_ = false;
  uint32_t trigger_ = 0;
  int64_t armed_first_ = 0;
  int64_t armed_count_ = 0;
  // setChain: after an armed window leaves, the socket arms itself with the window that answers that window's last
  // ACK (windowsize blocks, up to total_blocks_) — up to chain_budget_ times in a row without calling JS, which
  // then replays the chained_ ACKs it did not hear into its state machine (takeChained, or the next callback).
  int64_t chain_windowsize_ = 0;
  int64_t chain_total_ = 0;
  int64_t chain_budget_ = 0;
  int64_t chained_ = 0;
  // setChain's spinMicros: while this is the only open transfer socket of the process, wait for the ACK of a chained
  // window by polling the socket for up to spin_ns_ instead of going back to the event loop (an ACK on a LAN comes
  // back in microseconds; a sleep and a wake-up cost more than that). Adaptive: a wait that ran out stops the
  // spinning until a wake-up shows the peer answering within the budget again.
  int64_t spin_ns_ = 0;
  bool spin_hot_ = true;
  int64_t last_send_ns_ = 0;
  bool SpinForPeer();
  // Lock-step with other transfers open: the block answering an ACK is queued on this thread's SendRing and leaves
  // with the other transfers' blocks after the poll phase. The message lives here until the ring's next flush.
  bool QueueBlock(int64_t index);
  // Before any direct send or the close: the block this socket queued, if still queued, leaves first.
  void SettleQueued();
  msghdr queued_msg_{};
  iovec queued_iov_[2]{};
  uint64_t queued_generation_ = 0;
  bool queued_any_ = false;
  void PrefetchArmed() const;
  // Open transfer sockets in this process (spinning only when there is one).
  static std::atomic<int> open_count_;
  bool counted_ = false;
  // stats(): windows sent as one GSO sendmsg, ACK waits that spinning served, and waits where it ran out.
  int64_t gso_sends_ = 0;
  int64_t spin_hits_ = 0;
  int64_t spin_misses_ = 0;
  Napi::FunctionReference on_message_;
  Napi::FunctionReference on_error_;
};

}  // namespace dls
