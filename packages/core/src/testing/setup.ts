import { Broker, type BrokerOptions } from '../broker.js';
import type { CoreChannel, CoreConnection } from '../contract.js';
import { FakeChannelHost, FakeConnectionHost, fakeConnectionInfo } from './fake-host.js';
import { BrokerError } from '../errors.js';

/** A channel plus its recording host. */
export interface TestChannel {
  ch: CoreChannel;
  host: FakeChannelHost;
}

/** A broker with helpers to open connections and channels as a loopback guest (or another user). */
export class TestBroker {
  readonly broker: Broker;
  constructor(options: BrokerOptions = {}) {
    this.broker = new Broker(options);
  }

  connect(user = 'guest', password = 'guest', vhost = '/'): { conn: CoreConnection; host: FakeConnectionHost } {
    const u = this.broker.authenticate(user, password, '127.0.0.1');
    const host = new FakeConnectionHost();
    return { conn: this.broker.openConnection(fakeConnectionInfo(), u, vhost, host), host };
  }

  channel(conn?: CoreConnection): TestChannel {
    const c = conn ?? this.connect().conn;
    const host = new FakeChannelHost();
    return { ch: c.openChannel(host), host };
  }

  close(): void {
    this.broker.close();
  }
}

/** Run `fn` and describe the BrokerError it throws as "CODE: message" ("no error" when it does not throw). */
export function err(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof BrokerError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'no error';
}
