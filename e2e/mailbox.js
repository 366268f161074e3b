// A mail sink for the tests: a minimal SMTP server (no TLS, no AUTH) that
// keeps each message it is sent, for a server started with
// APISTORE_SMTP_URL=smtp://127.0.0.1:PORT?tls=none.
const net = require('node:net');
const { setTimeout: sleep } = require('node:timers/promises');

// startMailbox listens on a free port of 127.0.0.1 and resolves to
// { port, messages, next(timeoutMs), close() }; a message is
// { from, to: [], data } with data the raw text (headers and body).
async function startMailbox() {
  const messages = [];
  const sockets = new Set();
  const srv = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.setEncoding('utf8');
    let buffer = '';
    let msg = null;
    let inData = false;
    const reply = (line) => socket.write(`${line}\r\n`);
    reply('220 mailbox.test ESMTP');
    socket.on('data', (chunk) => {
      buffer += chunk;
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          // Undo the dot-stuffing of lines that begin with a dot.
          msg.data = buffer.slice(0, end).replace(/\r\n\.\./g, '\r\n.');
          buffer = buffer.slice(end + 5);
          messages.push(msg);
          msg = null;
          inData = false;
          reply('250 OK: queued');
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffer.slice(0, eol);
        buffer = buffer.slice(eol + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') reply('250-mailbox.test\r\n250-8BITMIME\r\n250 SMTPUTF8');
        else if (verb === 'HELO') reply('250 mailbox.test');
        else if (verb === 'MAIL') { msg = { from: line.replace(/^MAIL FROM:\s*/i, ''), to: [], data: '' }; reply('250 OK'); }
        else if (verb === 'RCPT') { msg.to.push(line.replace(/^RCPT TO:\s*<?([^>\s]*)>?.*$/i, '$1')); reply('250 OK'); }
        else if (verb === 'DATA') { inData = true; reply('354 End data with <CR><LF>.<CR><LF>'); }
        else if (verb === 'RSET' || verb === 'NOOP') { msg = null; reply('250 OK'); }
        else if (verb === 'QUIT') { reply('221 Bye'); socket.end(); return; }
        else reply('502 Command not implemented');
      }
    });
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  let taken = 0;
  return {
    port: srv.address().port,
    messages,
    // next waits for the next message not yet taken.
    async next(timeoutMs = 15_000) {
      for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(100)) {
        if (messages.length > taken) return messages[taken++];
      }
      throw new Error(`no mail within ${timeoutMs} ms (${messages.length} received)`);
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => srv.close(resolve));
    },
  };
}

module.exports = { startMailbox };
