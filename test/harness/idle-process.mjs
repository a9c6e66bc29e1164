// A process that waits until it is killed (started by crash-at-load.fixture.ts through spawnNodeScript).
setInterval(() => {}, 60_000);
