//! Gratuitous ARP and unsolicited neighbour advertisements, sent as whole
//! Ethernet frames from an AF_PACKET socket.
//!
//! The socket is opened with protocol 0, so the kernel delivers nothing to it:
//! a send-only socket whose receive queue can never fill.

use std::io;
use std::mem::size_of;
use std::net::{Ipv4Addr, Ipv6Addr};

use nix::libc;
use socket2::{Domain, SockAddr, SockAddrStorage, Socket, Type};

use crate::wire::{GarpRepr, UnsolicitedNaRepr};

pub struct Announcer {
    socket: Socket,
    mac: [u8; 6],
}

impl Announcer {
    pub fn open(ifindex: u32, mac: [u8; 6]) -> io::Result<Announcer> {
        let socket = Socket::new(Domain::PACKET, Type::RAW, None)?;
        socket.set_nonblocking(true)?;
        socket.bind(&link_address(ifindex))?;
        Ok(Announcer { socket, mac })
    }

    pub fn garp(&self, ip: Ipv4Addr) -> io::Result<()> {
        self.send(
            &GarpRepr {
                sender_mac: self.mac,
                ip,
            }
            .to_frame(),
        )
    }

    /// `src` is one of our link-local addresses (RFC 4861 7.2.6 requires a
    /// link-local source for neighbour advertisements).
    pub fn unsolicited_na(&self, src: Ipv6Addr, target: Ipv6Addr) -> io::Result<()> {
        let na = UnsolicitedNaRepr {
            src_mac: self.mac,
            src_ip: src,
            target,
            router: false,
        };
        self.send(&na.to_frame())
    }

    fn send(&self, frame: &[u8]) -> io::Result<()> {
        let n = self.socket.send(frame)?;
        if n != frame.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short send"));
        }
        Ok(())
    }
}

/// A `sockaddr_ll` naming the interface, protocol 0: bind for sending only.
fn link_address(ifindex: u32) -> SockAddr {
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: sockaddr_ll fits in sockaddr_storage, and we set the family and
    // length to match what we write.
    unsafe {
        let ll = storage.view_as::<libc::sockaddr_ll>();
        ll.sll_family = libc::AF_PACKET as libc::sa_family_t;
        ll.sll_protocol = 0;
        ll.sll_ifindex = ifindex as libc::c_int;
        SockAddr::new(storage, size_of::<libc::sockaddr_ll>() as libc::socklen_t)
    }
}
