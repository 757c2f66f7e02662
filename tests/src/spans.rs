//! A minimal `tracing` subscriber that records the spans named
//! `seclai.call` and their fields, to pin what the clients report.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use tracing_core::span::Current;

/// The fields of one recorded span, as text.
pub type Fields = BTreeMap<String, String>;

#[derive(Default)]
struct State {
    /// Every span: its metadata and, for `seclai.call`, its fields' index.
    spans: Vec<(&'static Metadata<'static>, Option<usize>)>,
    calls: Vec<Fields>,
    events: Vec<String>,
}

/// Records every `seclai.call` span; install it with
/// [`tracing::subscriber::with_default`] around the calls to observe.
#[derive(Clone, Default)]
pub struct SpanRecorder {
    state: Arc<Mutex<State>>,
}

thread_local! {
    static ENTERED: RefCell<Vec<Id>> = const { RefCell::new(Vec::new()) };
}

impl SpanRecorder {
    /// Every event seen so far (any level), as `target: field=value …`.
    pub fn events(&self) -> Vec<String> {
        self.state.lock().unwrap().events.clone()
    }

    /// The `seclai.call` spans seen so far, in creation order.
    pub fn calls(&self) -> Vec<Fields> {
        self.state.lock().unwrap().calls.clone()
    }
}

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl Subscriber for SpanRecorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut state = self.state.lock().unwrap();
        let call = (attrs.metadata().name() == "seclai.call").then(|| {
            let mut fields = Fields::new();
            attrs.record(&mut Collect(&mut fields));
            state.calls.push(fields);
            state.calls.len() - 1
        });
        state.spans.push((attrs.metadata(), call));
        Id::from_u64(state.spans.len() as u64)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut state = self.state.lock().unwrap();
        if let Some((_, Some(i))) = state.spans.get(span.into_u64() as usize - 1).copied() {
            values.record(&mut Collect(&mut state.calls[i]));
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::new();
        event.record(&mut Collect(&mut fields));
        let line = format!("{}: {fields:?}", event.metadata().target());
        self.state.lock().unwrap().events.push(line);
    }
    fn enter(&self, span: &Id) {
        ENTERED.with(|e| e.borrow_mut().push(span.clone()));
    }
    fn exit(&self, _: &Id) {
        ENTERED.with(|e| {
            e.borrow_mut().pop();
        });
    }
    fn current_span(&self) -> Current {
        let Some(id) = ENTERED.with(|e| e.borrow().last().cloned()) else {
            return Current::none();
        };
        let meta = self.state.lock().unwrap().spans[id.into_u64() as usize - 1].0;
        Current::new(id, meta)
    }
}
