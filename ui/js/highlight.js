// A small Python highlighter: tokenize() splits source into typed pieces
// whose texts join back into the source exactly; highlight() turns them
// into spans, one line element each (numbered by CSS).

const KEYWORDS = new Set(('False None True and as assert async await break class continue def del elif else '
  + 'except finally for from global if import in is lambda nonlocal not or pass raise return try while '
  + 'with yield match case').split(' '));

const BUILTINS = new Set(('abs all any bool dict divmod enumerate filter float format int isinstance len list '
  + 'map max min next print range repr reversed round set sorted str sum tuple type zip').split(' '));

const PREFIX = '(?:[rR][bBfF]?|[bBfF][rR]?|[uU])?';
// triple-quoted ones may span lines (unterminated: to the end); others
// end at their quote or the line's end
const STRING = new RegExp(`^${PREFIX}(?:"""[\\s\\S]*?(?:"""|$)|'''[\\s\\S]*?(?:'''|$)|"(?:[^"\\\\\\n]|\\\\.)*"?|'(?:[^'\\\\\\n]|\\\\.)*'?)`);
const NUMBER = /^(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?[jJ]?)/;
const NAME = /^[A-Za-z_\u00c0-\uffff][\w\u00c0-\uffff]*/;
const SPACE = /^[ \t\f]+|^\r?\n|^\r/;
const OP = /^(?:\*\*=?|\/\/=?|<<=?|>>=?|->|:=|[-+*\/%&|^@=<>!]=?|[~()[\]{},.:;\\])/;

// [{type, text}]: type is one of comment, string, number, keyword,
// builtin, def (the name after def or class), call, decorator, name, op,
// space, other
export function tokenize(src) {
  const out = [];
  let i = 0;
  let after = '';
  while (i < src.length) {
    const rest = src.slice(i);
    let m;
    let type;
    if (rest[0] === '#') {
      const end = rest.search(/\r|\n/);
      m = [end < 0 ? rest : rest.slice(0, end)];
      type = 'comment';
    } else if ((m = STRING.exec(rest))) {
      type = 'string';
    } else if ((m = SPACE.exec(rest))) {
      type = 'space';
    } else if (rest[0] === '@' && (m = /^@[A-Za-z_][\w.]*/.exec(rest)) && /(^|\n)[ \t]*$/.test(src.slice(0, i))) {
      type = 'decorator';
    } else if ((m = NUMBER.exec(rest))) {
      type = 'number';
    } else if ((m = NAME.exec(rest))) {
      const word = m[0];
      if (KEYWORDS.has(word)) type = 'keyword';
      else if (after === 'def' || after === 'class') type = 'def';
      else if (/^\s*\(/.test(rest.slice(word.length))) type = BUILTINS.has(word) ? 'builtin' : 'call';
      else type = BUILTINS.has(word) ? 'builtin' : 'name';
    } else if ((m = OP.exec(rest))) {
      type = 'op';
    } else {
      m = [rest[0]];
      type = 'other';
    }
    out.push({ type, text: m[0] });
    if (type !== 'space') after = type === 'keyword' ? m[0] : '';
    i += m[0].length;
  }
  return out;
}

// a <code> element holding one span.line per source line, tokens as
// span.tok-TYPE inside them
export function highlight(src) {
  const code = document.createElement('code');
  let line = document.createElement('span');
  line.className = 'line';
  const lines = [line];
  for (const tok of tokenize(src)) {
    const parts = tok.text.split(/\r\n|\n|\r/);
    parts.forEach((part, n) => {
      if (n > 0) {
        line = document.createElement('span');
        line.className = 'line';
        lines.push(line);
      }
      if (part === '') return;
      if (tok.type === 'space' || tok.type === 'other' || tok.type === 'name') {
        line.append(document.createTextNode(part));
      } else {
        const span = document.createElement('span');
        span.className = `tok-${tok.type}`;
        span.textContent = part;
        line.append(span);
      }
    });
  }
  // a final newline ends the last line: no empty line after it
  if (lines.length > 1 && lines[lines.length - 1].childNodes.length === 0) lines.pop();
  lines.forEach((l, n) => {
    code.append(l);
    if (n < lines.length - 1) code.append(document.createTextNode('\n'));
  });
  return code;
}
