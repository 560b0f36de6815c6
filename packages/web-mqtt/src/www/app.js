// Example page for MQTT over WebSocket: a live dashboard of a topic filter and a form that publishes.
// Query parameters override the defaults: ?filter=sensors/%23&topic=commands/x&username=guest&password=guest
import mqtt from 'mqtt';

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
const url = `${scheme}://${location.host}/ws`;
$('url').textContent = url;
if (params.has('filter')) $('filter').value = params.get('filter');
if (params.has('topic')) $('topic').value = params.get('topic');

function setStatus(text, cls) {
  $('status').textContent = text;
  $('status').className = cls;
}

const rows = new Map();
function show(topic, payload) {
  let row = rows.get(topic);
  if (row === undefined) {
    row = document.createElement('tr');
    row.dataset.topic = topic;
    for (const cls of ['topic', 'value', 'count']) {
      const td = document.createElement('td');
      td.className = cls;
      row.append(td);
    }
    row.children[0].textContent = topic;
    row.children[2].textContent = '0';
    rows.set(topic, row);
    $('latest').append(row);
  }
  row.children[1].textContent = payload;
  row.children[2].textContent = String(Number(row.children[2].textContent) + 1);
  const li = document.createElement('li');
  li.textContent = `${topic}: ${payload}`;
  $('messages').prepend(li);
}

const client = mqtt.connect(url, {
  username: params.get('username') ?? 'guest',
  password: params.get('password') ?? 'guest',
  clientId: `warren-page-${Math.random().toString(16).slice(2, 10)}`,
  protocolVersion: 4,
  reconnectPeriod: 2000,
});

let current;
function subscribe() {
  const filter = $('filter').value;
  if (current !== undefined && current !== filter) client.unsubscribe(current);
  client.subscribe(filter, { qos: 0 }, (err) => {
    if (err) setStatus(`subscribe failed: ${err.message}`, 'error');
    else setStatus(`connected, subscribed to ${filter}`, 'connected');
  });
  current = filter;
}

client.on('connect', () => subscribe());
client.on('message', (topic, payload) => show(topic, new TextDecoder().decode(payload)));
client.on('error', (err) => setStatus(`error: ${err.message}`, 'error'));
client.on('offline', () => setStatus('disconnected, reconnecting…', 'error'));

$('subscribe-form').addEventListener('submit', (event) => {
  event.preventDefault();
  if (client.connected) subscribe();
});
$('publish-form').addEventListener('submit', (event) => {
  event.preventDefault();
  if (client.connected) client.publish($('topic').value, $('payload').value, { qos: 0 });
});
