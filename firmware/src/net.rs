//! Name resolution for the HTTPS transport: the configuration's static
//! hosts first, then IPv4 literals, then DNS through embassy-net.

use core::net::{IpAddr, Ipv4Addr};

use embassy_net::dns::DnsSocket;
use embedded_nal_async::{AddrType, Dns};

use crate::config::HostEntry;

/// Static hosts, literals, then DNS.
pub struct Resolver<'a> {
    hosts: &'a [HostEntry],
    dns: DnsSocket<'a>,
}

impl<'a> Resolver<'a> {
    /// Over `stack`, with `hosts` looked up first.
    pub fn new(stack: embassy_net::Stack<'a>, hosts: &'a [HostEntry]) -> Self {
        Self {
            hosts,
            dns: DnsSocket::new(stack),
        }
    }

    /// A name from the static table or an IPv4 literal, without a query.
    pub fn lookup(&self, host: &str) -> Option<Ipv4Addr> {
        self.hosts
            .iter()
            .find(|h| h.name.as_str().eq_ignore_ascii_case(host))
            .map(|h| Ipv4Addr::from(h.ip))
            .or_else(|| host.parse().ok())
    }
}

impl Dns for Resolver<'_> {
    type Error = embassy_net::dns::Error;

    async fn get_host_by_name(
        &self,
        host: &str,
        addr_type: AddrType,
    ) -> Result<IpAddr, Self::Error> {
        match self.lookup(host) {
            Some(ip) => Ok(IpAddr::V4(ip)),
            None => self.dns.get_host_by_name(host, addr_type).await,
        }
    }

    async fn get_host_by_address(
        &self,
        addr: IpAddr,
        result: &mut [u8],
    ) -> Result<usize, Self::Error> {
        self.dns.get_host_by_address(addr, result).await
    }
}
