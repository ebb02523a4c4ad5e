import { Title } from '@mantine/core';

export default function GroupsPage() {
  return <Title order={2}>Groups</Title>;
}
