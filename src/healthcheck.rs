//! `tollgate healthcheck`: the container image's `HEALTHCHECK`. The runtime image has no shell
//! and no curl, so the binary asks its own `/readyz` (database reachable within a second) over
//! plain HTTP/1.1 on the address it serves (`BIND_ADDR`; an unspecified address such as
//! `0.0.0.0` is asked on loopback).

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Where to ask: the serving address, with an unspecified IP replaced by loopback.
pub fn target(bind: SocketAddr) -> SocketAddr {
    let ip = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, bind.port())
}

/// Ok when `GET /readyz` at `addr` answers 200 within `timeout`; otherwise what went wrong.
pub async fn probe(addr: SocketAddr, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, ask(addr)).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer from {addr} within {timeout:?}")),
    }
}

async fn ask(addr: SocketAddr) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .map_err(|e| format!("cannot send to {addr}: {e}"))?;
    // The status line is all that is needed; /readyz answers a few dozen bytes.
    let mut head = Vec::with_capacity(256);
    let mut chunk = [0_u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("cannot read from {addr}: {e}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let status_line = head
        .split(|&b| b == b'\r')
        .next()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let mut parts = status_line.split(' ');
    match (parts.next(), parts.next()) {
        (Some(version), Some("200")) if version.starts_with("HTTP/1.") => Ok(()),
        _ => Err(format!("/readyz at {addr} answered `{status_line}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_bind_address_is_asked_on_loopback() {
        let v4: SocketAddr = "0.0.0.0:8080".parse().expect("addr");
        assert_eq!(target(v4), "127.0.0.1:8080".parse().expect("addr"));
        let v6: SocketAddr = "[::]:9000".parse().expect("addr");
        assert_eq!(target(v6), "[::1]:9000".parse().expect("addr"));
        let exact: SocketAddr = "192.0.2.3:80".parse().expect("addr");
        assert_eq!(target(exact), exact);
    }

    #[tokio::test]
    async fn a_closed_port_is_unhealthy() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        assert!(probe(addr, Duration::from_secs(2)).await.is_err());
    }
}
