import { Title } from '@mantine/core';

export default function ClientsPage() {
  return <Title order={2}>Clients</Title>;
}
