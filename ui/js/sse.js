// A parser of server-sent events (the text/event-stream format) for a
// stream read with fetch(): EventSource cannot POST.  Feed it text as it
// arrives; it calls onEvent(name, data) for each complete event.  Comments
// (": heartbeat") and fields other than event and data are ignored.

export function createParser(onEvent) {
  let buffer = '';
  let name = '';
  let data = [];

  function dispatch() {
    if (data.length) onEvent(name || 'message', data.join('\n'));
    name = '';
    data = [];
  }

  function line(text) {
    if (text === '') {
      dispatch();
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') name = value;
    else if (field === 'data') data.push(value);
  }

  return {
    push(text) {
      buffer += text;
      // a lone \r at the very end may be the first half of \r\n: wait
      for (;;) {
        const m = /\r\n|\n|\r(?!$)/.exec(buffer);
        if (!m) break;
        line(buffer.slice(0, m.index));
        buffer = buffer.slice(m.index + m[0].length);
      }
    },
    // the stream ended: an event without its blank line is dropped, as
    // the format says
    end() {
      if (buffer.endsWith('\r')) line(buffer.slice(0, -1));
      buffer = '';
      name = '';
      data = [];
    },
  };
}

// Reads a fetch() Response's body as events until it ends or the signal
// aborts; onEvent(name, parsedJson).  Resolves when the stream ends.
export async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const parser = createParser((name, text) => {
    let value;
    try {
      value = JSON.parse(text);
    } catch {
      value = { text };
    }
    onEvent(name, value);
  });
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parser.push(decoder.decode(value, { stream: true }));
  }
  parser.push(decoder.decode());
  parser.end();
}
