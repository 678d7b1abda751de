/** Small HTTP helpers of the observability tests: listen on a free port, POST an operation. */
import { connect, type AddressInfo } from 'node:net';
import type { Server } from 'node:http';

export async function listen(server: { httpServer: Server }): Promise<string> {
  await new Promise<void>((resolve) => server.httpServer.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.httpServer.address() as AddressInfo).port}`;
}

export interface GraphQLAnswer {
  status: number;
  headers: Headers;
  body: { data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
}

export async function post(base: string, query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}): Promise<GraphQLAnswer> {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as GraphQLAnswer['body'] };
}

export const UPDATE_PRODUCT = 'mutation($id: ID!, $stamp: Int!, $name: String) { updateProduct(id: $id, expectedStamp: $stamp, input: { name: $name }) { product { id stamp name } } }';

/**
 * POSTs `body` to /graphql over a raw socket with header lines written as given (fetch refuses
 * control characters in a header); resolves with the status and the headers of the answer.
 */
export async function rawPost(base: string, extraHeaderLines: string, body: string): Promise<{ status: number; headers: Record<string, string> }> {
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((resolve, reject) => {
    socket.on('end', resolve);
    socket.on('error', reject);
  });
  socket.write(
    `POST /graphql HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nConnection: close\r\n${extraHeaderLines}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    'latin1',
  );
  await ended;
  const text = Buffer.concat(chunks).toString('latin1');
  const [head] = text.split('\r\n\r\n');
  const [statusLine, ...lines] = head!.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(statusLine!.split(' ')[1]), headers };
}
