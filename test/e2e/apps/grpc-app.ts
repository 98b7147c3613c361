// A real gRPC server (@grpc/grpc-js, plaintext h2c) for the end-to-end suite: `node grpc-app.ts PORT NAME`.
// Unary echoes; text "fail" answers NOT_FOUND with a message, "sleep" waits `n` ms. ServerStream sends `n` messages,
// ClientStream counts, Bidi echoes each message.
import * as grpc from '@grpc/grpc-js';
import { loadStreams, type Msg } from './grpc-proto.ts';

const [portArg, name = 'grpc-app'] = process.argv.slice(2);
const server = new grpc.Server();
server.addService(loadStreams().service, {
  Unary: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
    const { text, n } = call.request;
    if (text === 'fail') return cb({ code: grpc.status.NOT_FOUND, details: `no such thing at ${name}` });
    if (text === 'sleep') return void setTimeout(() => cb(null, { text: 'woke', n }), n);
    cb(null, { text: `${name}: ${text}`, n });
  },
  ServerStream: (call: grpc.ServerWritableStream<Msg, Msg>) => {
    for (let i = 0; i < call.request.n; i++) call.write({ text: `${call.request.text} ${i}`, n: i });
    call.end();
  },
  ClientStream: (call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
    let count = 0;
    let sum = 0;
    call.on('data', (m: Msg) => {
      count++;
      sum += m.n;
    });
    call.on('end', () => cb(null, { text: `got ${count}`, n: sum }));
  },
  Bidi: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
    call.on('data', (m: Msg) => call.write({ text: `echo ${m.text}`, n: m.n }));
    call.on('end', () => call.end());
  },
});
server.bindAsync(`127.0.0.1:${portArg}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  console.log(`${name} listening on 127.0.0.1:${port}`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
