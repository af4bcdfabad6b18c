// Placeholder until the storage issue lands: the real global setup starts moto_server.
export default async function setup(): Promise<void> {}
