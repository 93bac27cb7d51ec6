//! Values in rules that need more than text: networks for `cidr`.

use std::net::IpAddr;

/// A `cidr` value: an address and a prefix length (IPv4 or IPv6).
pub fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = text.trim().split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((addr, bits))
}
