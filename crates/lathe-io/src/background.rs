//! An encoder on a thread of its own: the caller's `write` copies the block into a recycled
//! buffer and hands it over, so that a costly encoder (FLAC, MP3, AAC, Opus) runs beside the
//! render instead of inside its writing thread. A fixed number of buffers travel between the
//! two threads: once they have grown to the block size nothing is allocated, and a caller
//! that gets ahead of the encoder waits for a buffer to come back (memory stays bounded).

use std::io;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

use crate::encoder_trait::{Encoder, Input};

/// Blocks in flight between the caller and the encoder's thread.
const BUFFERS: usize = 4;

/// One block's samples (left, right), of the encoder's input kind.
enum Block {
    Int(Vec<i32>, Vec<i32>),
    Float(Vec<f64>, Vec<f64>),
}

/// An [`Encoder`] running `inner` on its own thread.
pub struct Background {
    input: Input,
    blocks: Option<SyncSender<Block>>,
    recycled: Receiver<Block>,
    worker: Option<JoinHandle<io::Result<()>>>,
}

impl Background {
    /// Starts `inner`'s thread.
    pub fn spawn(inner: Box<dyn Encoder>) -> io::Result<Self> {
        let input = inner.input();
        let (blocks, to_encode) = sync_channel::<Block>(BUFFERS);
        let (give_back, recycled) = channel::<Block>();
        for _ in 0..BUFFERS {
            let empty = match input {
                Input::Int { .. } => Block::Int(Vec::new(), Vec::new()),
                Input::Float => Block::Float(Vec::new(), Vec::new()),
            };
            give_back.send(empty).expect("the receiver is here");
        }
        let worker = std::thread::Builder::new()
            .name("lathe-encoder".into())
            .spawn(move || encode_all(inner, to_encode, give_back))?;
        Ok(Self {
            input,
            blocks: Some(blocks),
            recycled,
            worker: Some(worker),
        })
    }

    /// Hands a filled block over; on failure, the encoder thread's own error.
    fn hand_over(&mut self, fill: impl FnOnce(&mut Block)) -> io::Result<()> {
        let Ok(mut block) = self.recycled.recv() else {
            return Err(self.stopped());
        };
        fill(&mut block);
        let sent = self.blocks.as_ref().map(|s| s.send(block));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => Err(self.stopped()),
        }
    }

    /// The error the encoder's thread stopped with.
    fn stopped(&mut self) -> io::Error {
        self.blocks = None;
        match self.worker.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            Some(Err(_)) => io::Error::other("the encoder's thread panicked"),
            _ => io::Error::other("the encoder's thread stopped"),
        }
    }
}

/// The encoder's thread: encodes every block, gives its buffer back, then finishes the file.
fn encode_all(
    mut inner: Box<dyn Encoder>,
    to_encode: Receiver<Block>,
    give_back: Sender<Block>,
) -> io::Result<()> {
    for block in to_encode.iter() {
        match &block {
            Block::Int(l, r) => inner.write_int(l, r)?,
            Block::Float(l, r) => inner.write_float(l, r)?,
        }
        // The caller may be gone (it stopped early); the buffer is then dropped here.
        let _ = give_back.send(block);
    }
    inner.finish()
}

impl Encoder for Background {
    fn input(&self) -> Input {
        self.input
    }

    fn write_int(&mut self, l: &[i32], r: &[i32]) -> io::Result<()> {
        if self.input == Input::Float {
            return Err(wrong_input("float"));
        }
        self.hand_over(|b| {
            if let Block::Int(bl, br) = b {
                bl.clear();
                bl.extend_from_slice(l);
                br.clear();
                br.extend_from_slice(r);
            }
        })
    }

    fn write_float(&mut self, l: &[f64], r: &[f64]) -> io::Result<()> {
        if self.input != Input::Float {
            return Err(wrong_input("integer"));
        }
        self.hand_over(|b| {
            if let Block::Float(bl, br) = b {
                bl.clear();
                bl.extend_from_slice(l);
                br.clear();
                br.extend_from_slice(r);
            }
        })
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        // Closing the channel lets the thread finish the file once every block is encoded.
        self.blocks = None;
        match self.worker.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the encoder's thread panicked")),
            None => Err(io::Error::other("the encoder's thread stopped")),
        }
    }
}

/// Samples of the other kind than the encoder takes.
fn wrong_input(takes: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("this encoder takes {takes} samples"),
    )
}

impl Drop for Background {
    fn drop(&mut self) {
        // Dropped without `finish` (the render failed): the thread sees the closed channel,
        // completes what it has, and is joined so that no thread outlives its file.
        self.blocks = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Records what it is given, and fails on a block of length 13 when asked to.
    struct Recorder {
        seen: Arc<Mutex<Vec<i32>>>,
        finished: Arc<Mutex<bool>>,
        fail_on_13: bool,
    }

    impl Encoder for Recorder {
        fn input(&self) -> Input {
            Input::Int { bits: 24 }
        }
        fn write_int(&mut self, l: &[i32], r: &[i32]) -> io::Result<()> {
            if self.fail_on_13 && l.len() == 13 {
                return Err(io::Error::other("disk full"));
            }
            let mut s = self.seen.lock().unwrap();
            for (a, b) in l.iter().zip(r) {
                s.extend([*a, *b]);
            }
            Ok(())
        }
        fn write_float(&mut self, _: &[f64], _: &[f64]) -> io::Result<()> {
            unreachable!()
        }
        fn finish(self: Box<Self>) -> io::Result<()> {
            *self.finished.lock().unwrap() = true;
            Ok(())
        }
    }

    type Seen = Arc<Mutex<Vec<i32>>>;

    fn recorder(fail_on_13: bool) -> (Recorder, Seen, Arc<Mutex<bool>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let finished = Arc::new(Mutex::new(false));
        let r = Recorder {
            seen: seen.clone(),
            finished: finished.clone(),
            fail_on_13,
        };
        (r, seen, finished)
    }

    #[test]
    fn every_block_arrives_in_order_and_the_file_is_finished() {
        let (r, seen, finished) = recorder(false);
        let mut bg = Box::new(Background::spawn(Box::new(r)).unwrap());
        let mut want = Vec::new();
        for k in 0..100 {
            let l: Vec<i32> = (0..(k % 7 + 1)).map(|i| k * 100 + i).collect();
            let r: Vec<i32> = l.iter().map(|v| -v).collect();
            for (a, b) in l.iter().zip(&r) {
                want.extend([*a, *b]);
            }
            bg.write_int(&l, &r).unwrap();
        }
        bg.finish().unwrap();
        assert_eq!(*seen.lock().unwrap(), want);
        assert!(*finished.lock().unwrap());
    }

    #[test]
    fn the_encoders_error_reaches_the_caller() {
        let (r, _, finished) = recorder(true);
        let mut bg = Box::new(Background::spawn(Box::new(r)).unwrap());
        let mut got = Ok(());
        for n in [5, 13, 5, 5, 5, 5, 5, 5] {
            got = got.and_then(|_| bg.write_int(&vec![0; n], &vec![0; n]));
        }
        let e = got.and_then(|_| bg.finish()).unwrap_err();
        assert_eq!(e.to_string(), "disk full");
        assert!(!*finished.lock().unwrap());
    }
}
