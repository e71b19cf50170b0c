# EKS access entries of cluster prod, written by aws-auth-migrate from testdata/examples/prod.yaml
#   (offline plan).
# 5 access entries, 2 policy associations; 0 mappings stay in aws-auth.
# Review it like any change of who may use the cluster. The tool's created-by tag is never written
#   here.
#
# Offline plan, so no imports: EKS makes node, Fargate and cluster-creator entries itself at the
#   switch to API_AND_CONFIG_MAP, and creating them again fails with ResourceInUseException. Switch
#   the mode first, then write this again from the live cluster:
#   aws-auth-migrate migrate --cluster prod --to dual   # or the authentication mode in your IaC
#   aws-auth-migrate plan --cluster prod -o terraform
#
# Then, once applied:
#   aws-auth-migrate verify --cluster prod            # parity, recorded for the api gate
#   aws-auth-migrate migrate --cluster prod --to api --confirm prod
# and then say API in the IaC's authentication mode too: EKS refuses any way back, so an apply that
#   still says API_AND_CONFIG_MAP fails.
#
# Mappings not migrated because aws-auth does not use them today:
#   mapRoles[4] arn:aws:sts::444455556666:assumed-role/CrossAccountEKSAdmin/alice (warning
#     assumed-role-arn)
#
# Needs Terraform 1.5 or later (import blocks) and the hashicorp/aws provider. cluster_name is a
#   literal because import ids must be known at plan time; point it at your cluster resource if you
#   prefer.

# mapRoles[0] in aws-auth
resource "aws_eks_access_entry" "eks_prod_node_group_nodeinstancerole" {
  cluster_name  = "prod"
  principal_arn = "arn:aws:iam::111122223333:role/eks-prod-node-group-NodeInstanceRole"
  type          = "EC2_LINUX"
}

# mapRoles[1] in aws-auth; warning node-role-heuristic
resource "aws_eks_access_entry" "eks_prod_fargate_pod_execution" {
  cluster_name  = "prod"
  principal_arn = "arn:aws:iam::111122223333:role/eks-prod-fargate-pod-execution"
  type          = "FARGATE_LINUX"
}

# mapRoles[2] in aws-auth
resource "aws_eks_access_entry" "eks_admin" {
  cluster_name  = "prod"
  principal_arn = "arn:aws:iam::111122223333:role/eks-admin"
  type          = "STANDARD"
  user_name     = "eks-admin"
}

resource "aws_eks_access_policy_association" "eks_admin_cluster_admin" {
  cluster_name  = "prod"
  principal_arn = aws_eks_access_entry.eks_admin.principal_arn
  policy_arn    = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

  access_scope {
    type = "cluster"
  }
}

# mapRoles[3] in aws-auth
resource "aws_eks_access_entry" "ci_deployer" {
  cluster_name      = "prod"
  principal_arn     = "arn:aws:iam::444455556666:role/ci-deployer"
  type              = "STANDARD"
  user_name         = "ci:{{SessionName}}"
  kubernetes_groups = ["deployers"]
}

resource "aws_eks_access_policy_association" "ci_deployer_cluster_admin" {
  cluster_name  = "prod"
  principal_arn = aws_eks_access_entry.ci_deployer.principal_arn
  policy_arn    = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

  access_scope {
    type = "cluster"
  }
}

# mapUsers[0] in aws-auth
resource "aws_eks_access_entry" "developer" {
  cluster_name      = "prod"
  principal_arn     = "arn:aws:iam::111122223333:user/developer"
  type              = "STANDARD"
  user_name         = "developer"
  kubernetes_groups = ["reader"]
}
