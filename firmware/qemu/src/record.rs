//! The recorder's side: a TCP connector that keeps what the server sends.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::vec::Vec;

use embedded_nal_async::TcpConnect;

/// `T`'s connections, each one's incoming bytes kept (in order of
/// connecting) for [`crate::Recording::encode`].
pub struct RecordingTcp<T> {
    inner: T,
    received: Rc<RefCell<Vec<Vec<u8>>>>,
}

impl<T> RecordingTcp<T> {
    /// Record the connections made through `inner`.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            received: Rc::default(),
        }
    }

    /// What each connection received so far.
    pub fn received(&self) -> Vec<Vec<u8>> {
        self.received.borrow().clone()
    }
}

impl<T: TcpConnect> TcpConnect for RecordingTcp<T> {
    type Error = T::Error;
    type Connection<'a>
        = Recorded<T::Connection<'a>>
    where
        Self: 'a;

    async fn connect<'a>(&'a self, remote: SocketAddr) -> Result<Self::Connection<'a>, T::Error> {
        let inner = self.inner.connect(remote).await?;
        let mut received = self.received.borrow_mut();
        received.push(Vec::new());
        Ok(Recorded {
            inner,
            index: received.len() - 1,
            received: self.received.clone(),
        })
    }
}

/// One recorded connection.
pub struct Recorded<C> {
    inner: C,
    index: usize,
    received: Rc<RefCell<Vec<Vec<u8>>>>,
}

impl<C: embedded_io_async::ErrorType> embedded_io_async::ErrorType for Recorded<C> {
    type Error = C::Error;
}

impl<C: embedded_io_async::Read> embedded_io_async::Read for Recorded<C> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, C::Error> {
        let n = self.inner.read(buf).await?;
        if let (Some(kept), Some(new)) =
            (self.received.borrow_mut().get_mut(self.index), buf.get(..n))
        {
            kept.extend_from_slice(new);
        }
        Ok(n)
    }
}

impl<C: embedded_io_async::Write> embedded_io_async::Write for Recorded<C> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, C::Error> {
        self.inner.write(buf).await
    }

    async fn flush(&mut self) -> Result<(), C::Error> {
        self.inner.flush().await
    }
}
