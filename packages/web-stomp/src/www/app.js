// Example page for STOMP over WebSocket: a live view of a destination and a form that sends to one.
// Query parameters override the defaults: ?subscribe=/topic/x.#&destination=/topic/x.y&login=guest&passcode=guest
import { Client } from '@stomp/stompjs';

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
const url = `${scheme}://${location.host}/ws`;
$('url').textContent = url;
if (params.has('subscribe')) $('subscription').value = params.get('subscribe');
if (params.has('destination')) $('destination').value = params.get('destination');

function setStatus(text, cls) {
  $('status').textContent = text;
  $('status').className = cls;
}

function show(destination, body) {
  const li = document.createElement('li');
  const dest = document.createElement('span');
  dest.className = 'dest';
  dest.textContent = destination;
  const text = document.createElement('span');
  text.className = 'body';
  text.textContent = body;
  li.append(dest, text);
  $('messages').prepend(li);
}

const client = new Client({
  brokerURL: url,
  connectHeaders: {
    login: params.get('login') ?? 'guest',
    passcode: params.get('passcode') ?? 'guest',
    host: params.get('vhost') ?? '/',
  },
  reconnectDelay: 2000,
  heartbeatIncoming: 10000,
  heartbeatOutgoing: 10000,
});

let subscription;
function subscribe() {
  subscription?.unsubscribe();
  const destination = $('subscription').value;
  subscription = client.subscribe(destination, (message) => {
    show(message.headers.destination ?? destination, message.body);
  });
  setStatus(`connected, subscribed to ${destination}`, 'connected');
}

client.onConnect = () => subscribe();
client.onStompError = (frame) => setStatus(`error: ${frame.headers.message ?? ''}`, 'error');
client.onWebSocketClose = () => {
  if ($('status').className === 'connected') setStatus('disconnected, reconnecting…', 'error');
};
client.activate();

$('subscribe-form').addEventListener('submit', (event) => {
  event.preventDefault();
  if (client.connected) subscribe();
});
$('publish-form').addEventListener('submit', (event) => {
  event.preventDefault();
  if (!client.connected) return;
  client.publish({ destination: $('destination').value, body: $('body').value });
});
