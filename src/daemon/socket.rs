//! Raw VRRP sockets (IP protocol 112), one per interface and address family.
//!
//! RFC 9568 section 5.1: adverts go out with TTL/hop limit 255 and anything
//! received with less came through a router and is dropped. We join the VRRP
//! group on the instance's interface only (SO_BINDTODEVICE, IP_MULTICAST_ALL
//! off), turn multicast loop off so we do not hear ourselves, and choose the
//! source address per packet with IP_PKTINFO / IPV6_PKTINFO so one socket serves
//! every instance on the interface while still receiving multicast.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::task::{Context, Poll};
use std::time::Duration;

use nix::libc;
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn, SockaddrIn6, SockaddrStorage,
    recvmsg, sendmsg,
};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::wire::{
    self, Family, IpEnvelope, VRRP_IPV4_GROUP, VRRP_IPV6_GROUP, VRRP_PROTOCOL, VRRP_TTL,
};

/// IP precedence 6 (network control) in the TOS / traffic class byte.
const NETWORK_CONTROL: u32 = 0xc0;

/// The largest datagram we accept: 255 IPv6 addresses plus headers fit easily.
pub const MAX_DATAGRAM: usize = 4096;

/// Sets one socket option.
type SocketOption = fn(&Socket) -> io::Result<()>;

/// TTL / hop limit of everything we send (RFC 9568 section 5.1).
const HOP_LIMIT: u32 = VRRP_TTL as u32;

pub struct VrrpSocket {
    fd: AsyncFd<Socket>,
    family: Family,
    ifindex: u32,
}

/// A datagram received into the caller's buffer: what the kernel said of
/// it, and where its VRRP bytes are in that buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    /// The kernel's receive time on the wall clock (SO_TIMESTAMPNS), since
    /// the Unix epoch; `None` if it gave none.
    pub stamp: Option<Duration>,
    pub payload: Range<usize>,
}

impl Received {
    /// The datagram, read from the buffer it was received into.
    pub fn envelope<'a>(&self, buf: &'a [u8]) -> IpEnvelope<'a> {
        IpEnvelope {
            src: self.src,
            dst: self.dst,
            ttl: self.ttl,
            payload: &buf[self.payload.clone()],
        }
    }
}

impl VrrpSocket {
    /// Opens the socket on `ifname`; `join_group` is false for unicast-only
    /// instances, which must not listen to the multicast group.
    pub fn open(
        family: Family,
        ifname: &str,
        ifindex: u32,
        join_group: bool,
    ) -> io::Result<VrrpSocket> {
        let domain = match family {
            Family::Ipv4 => Domain::IPV4,
            Family::Ipv6 => Domain::IPV6,
        };
        let socket = Socket::new(
            domain,
            Type::RAW,
            Some(Protocol::from(i32::from(VRRP_PROTOCOL))),
        )?;
        socket.set_nonblocking(true)?;
        socket.bind_device(Some(ifname.as_bytes()))?;
        // Each datagram's receive time, so timers run from when an advert
        // arrived rather than from when the loop got to it.
        nix::sys::socket::setsockopt(
            &socket,
            nix::sys::socket::sockopt::ReceiveTimestampns,
            &true,
        )
        .map_err(io::Error::from)?;
        // The same options for either family: hear only the group joined on
        // this interface and not our own adverts, send with TTL / hop limit
        // 255, and network control precedence as keepalived and FRR send.
        let options: [(SocketOption, SocketOption); 5] = [
            (
                |s| s.set_multicast_all_v4(false),
                |s| s.set_multicast_all_v6(false),
            ),
            (
                |s| s.set_multicast_loop_v4(false),
                |s| s.set_multicast_loop_v6(false),
            ),
            (
                |s| s.set_multicast_ttl_v4(HOP_LIMIT),
                |s| s.set_multicast_hops_v6(HOP_LIMIT),
            ),
            (
                |s| s.set_ttl_v4(HOP_LIMIT),
                |s| s.set_unicast_hops_v6(HOP_LIMIT),
            ),
            (
                |s| s.set_tos_v4(NETWORK_CONTROL),
                |s| s.set_tclass_v6(NETWORK_CONTROL),
            ),
        ];
        for (v4, v6) in options {
            match family {
                Family::Ipv4 => v4(&socket)?,
                Family::Ipv6 => v6(&socket)?,
            }
        }
        match family {
            Family::Ipv4 => {
                if join_group {
                    socket.join_multicast_v4_n(
                        &VRRP_IPV4_GROUP,
                        &InterfaceIndexOrAddress::Index(ifindex),
                    )?;
                }
            }
            Family::Ipv6 => {
                socket.set_multicast_if_v6(ifindex)?;
                socket.set_recv_hoplimit_v6(true)?;
                nix::sys::socket::setsockopt(
                    &socket,
                    nix::sys::socket::sockopt::Ipv6RecvPacketInfo,
                    &true,
                )
                .map_err(io::Error::from)?;
                if join_group {
                    socket.join_multicast_v6(&VRRP_IPV6_GROUP, ifindex)?;
                }
            }
        }
        // SAFETY: the AsyncFd owns the socket, so the descriptor stays open for
        // exactly as long as it is registered.
        let fd = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE)? };
        Ok(VrrpSocket {
            fd,
            family,
            ifindex,
        })
    }

    pub fn family(&self) -> Family {
        self.family
    }

    /// The interface index the socket was opened for.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Waits for the next datagram and receives it into `buf`. The outer
    /// error is the socket's; the inner one is a malformed IPv4 header, to
    /// be counted and dropped.
    pub async fn recv(
        &self,
        buf: &mut [u8; MAX_DATAGRAM],
    ) -> io::Result<Result<Received, wire::Error>> {
        std::future::poll_fn(|cx| self.poll_recv(cx, buf)).await
    }

    /// Receives a waiting datagram into `buf`, or registers for a wake-up
    /// when one arrives.
    pub fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8; MAX_DATAGRAM],
    ) -> Poll<io::Result<Result<Received, wire::Error>>> {
        loop {
            let mut guard = match self.fd.poll_read_ready(cx) {
                Poll::Ready(guard) => guard?,
                Poll::Pending => return Poll::Pending,
            };
            match guard.try_io(|fd| self.recv_now(fd.get_ref(), buf)) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn recv_now(
        &self,
        socket: &Socket,
        buf: &mut [u8; MAX_DATAGRAM],
    ) -> io::Result<Result<Received, wire::Error>> {
        let mut cmsg = nix::cmsg_space!(libc::c_int, libc::in6_pktinfo, nix::sys::time::TimeSpec);
        let mut iov = [IoSliceMut::new(buf)];
        let msg = recvmsg::<SockaddrStorage>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::empty(),
        )
        .map_err(io::Error::from)?;
        let (n, from) = (msg.bytes, msg.address);
        // IPv6 raw sockets strip the header: hop limit and destination come as
        // ancillary data.
        let mut ttl = 0u8;
        let mut dst = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
        let mut stamp = None;
        for c in msg.cmsgs().map_err(io::Error::from)? {
            match c {
                ControlMessageOwned::Ipv6HopLimit(h) => ttl = u8::try_from(h).unwrap_or(0),
                ControlMessageOwned::Ipv6PacketInfo(info) => {
                    dst = IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr))
                }
                ControlMessageOwned::ScmTimestampns(ts) => stamp = Some(Duration::from(ts)),
                _ => {}
            }
        }
        let bytes = &buf[..n];
        Ok(match self.family {
            // An IPv4 raw socket hands us the IP header: TTL and addresses come from it.
            Family::Ipv4 => wire::parse_ipv4(bytes).map(|ip| {
                let start = ip.payload.as_ptr() as usize - bytes.as_ptr() as usize;
                Received {
                    src: ip.src,
                    dst: ip.dst,
                    ttl: ip.ttl,
                    stamp,
                    payload: start..start + ip.payload.len(),
                }
            }),
            Family::Ipv6 => {
                let src = from
                    .and_then(|a| a.as_sockaddr_in6().map(|a| IpAddr::V6(a.ip())))
                    .ok_or_else(|| invalid("no source"))?;
                Ok(Received {
                    src,
                    dst,
                    ttl,
                    stamp,
                    payload: 0..n,
                })
            }
        })
    }

    /// Sends one advert from `src` to `dst` without waiting: a full socket
    /// buffer is an error the caller logs, never a stall of the protocol loop.
    pub fn send(&self, payload: &[u8], src: IpAddr, dst: IpAddr) -> io::Result<()> {
        let fd = self.fd.get_ref().as_raw_fd();
        let iov = [IoSlice::new(payload)];
        let sent = match (src, dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let info = libc::in_pktinfo {
                    ipi_ifindex: self.ifindex as libc::c_int,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from(src).to_be(),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                let to = SockaddrIn::from(SocketAddrV4::new(dst, 0));
                sendmsg(
                    fd,
                    &iov,
                    &[ControlMessage::Ipv4PacketInfo(&info)],
                    MsgFlags::MSG_DONTWAIT,
                    Some(&to),
                )
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: src.octets(),
                    },
                    ipi6_ifindex: self.ifindex,
                };
                let to = SockaddrIn6::from(SocketAddrV6::new(dst, 0, 0, self.ifindex));
                sendmsg(
                    fd,
                    &iov,
                    &[ControlMessage::Ipv6PacketInfo(&info)],
                    MsgFlags::MSG_DONTWAIT,
                    Some(&to),
                )
            }
            _ => return Err(invalid("source and destination families differ")),
        };
        let n = sent.map_err(io::Error::from)?;
        if n != payload.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short send"));
        }
        Ok(())
    }
}

fn invalid(e: impl ToString) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}
