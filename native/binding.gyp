# DLS native networking addon (Linux only): interface-bound UDP sockets with IP_PKTINFO for DHCP, a raw ICMPv6
# socket for router solicitations/advertisements, and TFTP transfer sockets (a DATA window per GSO send or sendmmsg;
# the lock-step blocks of concurrent transfers batched through io_uring, send_ring.h).
# Build: `node-gyp rebuild --directory native`.
{
  'targets': [
    {
      'target_name': 'dls_net',
      'sources': ['src/addon.cc', 'src/errors.cc', 'src/poller.cc', 'src/udp_socket.cc', 'src/ra_socket.cc', 'src/transfer_socket.cc', 'src/loop_spin.cc', 'src/send_ring.cc'],
      'dependencies': ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      'defines': ['NAPI_VERSION=8'],
      'cflags_cc': ['-std=c++17', '-Wall', '-Wextra', '-Wno-unused-parameter', '-Wno-cast-function-type'],
      'conditions': [
        ['OS!="linux"', { 'type': 'none', 'sources': [] }],
      ],
    },
  ],
}
